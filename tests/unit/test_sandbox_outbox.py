"""The sandbox's SMS outbox as programs on this machine read it: GET /-/sandbox/sms."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from starlette.testclient import TestClient

from sandbox.accounts import Account
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.state import SandboxState
from tests.support.clock import Clock

LOOPBACK = ("127.0.0.1", 50000)


def sms_account(email: str, uid: int, phone: str) -> Account:
    return Account(
        email=email,
        password="correct horse",
        totp_secret=pyotp.random_base32(),
        uid=uid,
        mailbox=email,
        auth_factors=("email", "sms", "ga"),
        phone=phone,
    )


def outbox() -> tuple[Any, SandboxState, Clock, list[Account]]:
    accounts = [
        sms_account("alice@example.test", 10000001, "+86 13812345678"),
        sms_account("bob@example.test", 10000002, "+44 7700-900123"),
    ]
    clock = Clock(1_767_268_800.0)  # 2026-01-01T12:00:00Z
    state = SandboxState(accounts, clock)
    app = create_app(SandboxConfig(accounts, faults=Faults(latency_ms=0)), state)
    return app, state, clock, accounts


def test_programs_on_this_machine_read_each_sms_with_its_time() -> None:
    app, state, clock, (alice, bob) = outbox()
    first = state.issue_sms_code(alice, "create")
    clock.advance(90.5)
    second = state.issue_sms_code(bob, "delete")
    with TestClient(app, client=LOOPBACK) as client:
        answer = client.get("/-/sandbox/sms")
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        messages = answer.json()["messages"]
        assert [(m["to"], m["sent_at"]) for m in messages] == [
            ("+86 13812345678", "2026-01-01T12:00:00Z"),
            ("+44 7700900123", "2026-01-01T12:01:30Z"),
        ]
        assert [re.findall(r"\b\d{6}\b", m["text"]) for m in messages] == [[first], [second]]

        only_bob = client.get("/-/sandbox/sms", params={"to": "+44 7700 900 123"}).json()
        assert [m["to"] for m in only_bob["messages"]] == ["+44 7700900123"]
        later = client.get("/-/sandbox/sms", params={"since": "2026-01-01T12:01:30Z"}).json()
        assert [m["sent_at"] for m in later["messages"]] == ["2026-01-01T12:01:30Z"]
        none = client.get("/-/sandbox/sms", params={"since": "2026-01-01T12:01:31+00:00"})
        assert none.json() == {"messages": []}
        bad = client.get("/-/sandbox/sms", params={"since": "yesterday"})
        assert bad.status_code == 400
        assert bad.json() == {"error": "since must be an ISO 8601 time, e.g. 2026-01-01T12:00:00Z"}


def test_no_one_else_reads_the_codes() -> None:
    app, state, _clock, (alice, _bob) = outbox()
    code = state.issue_sms_code(alice, "create")
    for client_host in (("192.0.2.7", 50000), ("testclient", 50000)):
        with TestClient(app, client=client_host) as client:
            answer = client.get("/-/sandbox/sms")
            assert answer.status_code == 403
            assert answer.json() == {"error": "the SMS outbox answers only on this machine"}
            assert code not in answer.text
