"""The replica's switchable faults (sandbox/faults.py, sandbox/fault_calls.py) and the
loopback-only controls that switch them while it runs (sandbox/control.py). No browser."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from starlette.testclient import TestClient

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.control import is_loopback
from sandbox.faults import Faults
from sandbox.mailer import Mailer, MailTarget
from sandbox.state import SandboxState
from tests.support.clock import Clock
from tests.unit.test_sandbox_mailer import Collect, mail, server  # noqa: F401
from tests.unit.test_sandbox_rules import Site, create_body, last_code, make_account

LOOPBACK = ("127.0.0.1", 40000)
BUSY = "System busy, please try again later"


def make_site(client: tuple[str, int] = LOOPBACK, base_url: str = "http://127.0.0.1:8400") -> Any:
    account = make_account()
    clock = Clock()
    state = SandboxState([account], clock=clock)
    faults = Faults(latency_ms=0)
    app = create_app(SandboxConfig([account], faults=faults), state)
    return TestClient(app, base_url=base_url, client=client), Site(
        None,  # type: ignore[arg-type]  # set below, once the client is entered
        state,
        clock,
        account,
        faults,
    )


@pytest.fixture
def site() -> Iterator[Site]:
    client, site = make_site()
    with client:
        site.client = client
        site.login()
        site.next_window()
        yield site


def set_faults(site: Site, **changes: Any) -> dict[str, Any]:
    r = site.client.post("/-/sandbox/faults", json=changes)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def create(site: Site, code: str) -> tuple[int, dict[str, object]]:
    return site.post("apikey/create", create_body(site, emailCode=code, gaCode=site.ga()))


# -- Faults: checked as a whole ------------------------------------------------------------


def test_update_applies_all_or_nothing() -> None:
    faults = Faults()
    faults.update({"fail_call": "send", "slow_calls": {"confirm": 2}, "refuse_ga": 1})
    assert (faults.fail_call, faults.slow_calls, faults.refuse_ga) == ("send", {"confirm": 2.0}, 1)
    with pytest.raises(ValueError, match="drop_mail must be bool"):
        faults.update({"fail_call": "list", "drop_mail": 1})
    assert faults.fail_call == "send"  # the good half of a bad change was not applied


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"fail_call": "login"}, "fail_call must be one of create, send, confirm, delete, list"),
        ({"expire_session_after": "x"}, "expire_session_after must be one of"),
        ({"fail_status": 404}, "fail_status must be an HTTP 5xx status"),
        ({"latency_ms": True}, "latency_ms must be int"),
        ({"mail_delay_s": math.inf}, "mail_delay_s must be between 0 and 600 seconds"),
        ({"mail_delay_s": -1}, "mail_delay_s must be between 0 and 600 seconds"),
        ({"slow_calls": {"delete": "5"}}, "slow_calls['delete'] must be float"),
        ({"slow_calls": {"login": 5}}, "slow_calls: unknown call 'login'"),
        ({"refuse_ga": -1}, "refuse_ga must not be negative"),
        ({"labels": ["a"]}, "labels must be an object of str"),
        ({"error_texts": "klingon"}, "klingon"),
        ({"no_such_fault": 1}, "unknown fault 'no_such_fault'"),
    ],
)
def test_bad_changes_are_refused_by_name(change: dict[str, Any], message: str) -> None:
    faults = Faults()
    before = faults.as_dict()
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        faults.update(change)
    assert faults.as_dict() == before


def test_reset_turns_every_fault_off_and_keeps_the_latency() -> None:
    faults = Faults(latency_ms=0, drop_mail=True, fail_call="list", labels={"a": "b"})
    faults.reset()
    assert faults == Faults(latency_ms=0)


# -- the controls: loopback only -------------------------------------------------------------


def test_controls_read_change_and_reset_faults(site: Site) -> None:
    assert site.client.get("/-/sandbox/faults").json()["fail_call"] == ""
    assert set_faults(site, fail_call="list", fail_times=2)["fail_times"] == 2
    assert site.faults.fail_call == "list"  # the running server's own Faults object
    r = site.client.post("/-/sandbox/faults", json={"fail_call": "list", "drop_mail": "yes"})
    assert (r.status_code, r.json()) == (400, {"error": "drop_mail must be bool"})
    r = site.client.post("/-/sandbox/faults", content=b"drop_mail=1")
    assert r.status_code == 415
    assert site.client.delete("/-/sandbox/faults").json()["fail_call"] == ""
    site.post("apikey/precheck", create_body(site))
    assert site.client.get("/-/sandbox/calls").json() == {"create": 1}


@pytest.mark.parametrize(
    ("client", "base_url"),
    [
        (("192.0.2.7", 40000), "http://127.0.0.1:8400"),  # from another machine
        (("testclient", 50000), "http://127.0.0.1:8400"),  # not an address at all
        (LOOPBACK, "http://rebound.example:8400"),  # a page of another site, DNS rebinding
    ],
)
def test_controls_refuse_anything_but_loopback(client: tuple[str, int], base_url: str) -> None:
    test_client, site = make_site(client, base_url)
    with test_client:
        for method, path in (("GET", "faults"), ("POST", "faults"), ("GET", "calls")):
            r = test_client.request(method, f"/-/sandbox/{path}", json={"drop_mail": True})
            assert r.status_code == 403, r.text
            assert "only on a loopback address" in r.json()["error"]
    assert site.faults.drop_mail is False


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True),
     ("::ffff:127.0.0.1", True), ("10.0.0.1", False), ("", False), ("localhost", False)],
)  # fmt: skip
def test_is_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


# -- the page calls under faults ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "path", "body"),
    [
        ("create", "apikey/precheck", {"note": "bot", "permissions": ["read"], "ips": ""}),
        ("send", "verify/email/send", {"purpose": "create"}),
        ("confirm", "apikey/create", {"note": "bot", "emailCode": "1", "gaCode": "1"}),
        ("delete", "apikey/delete", {"accessKey": "x", "emailCode": "1", "gaCode": "1"}),
    ],
)
def test_each_call_fails_by_name_until_its_count_runs_out(
    site: Site, call: str, path: str, body: dict[str, object]
) -> None:
    set_faults(site, fail_call=call, fail_status=503, fail_times=2)
    for _ in range(2):
        assert site.post(path, body)[0] == 503
    assert site.faults.fail_call == ""  # the last failure ended the fault
    assert site.post(path, body)[0] != 503
    assert site.state.calls[call] == 3


def test_list_fails_every_time_without_a_count(site: Site) -> None:
    set_faults(site, fail_call="list")
    for _ in range(3):
        r = site.client.get("/-/x/web/apikey/list")
        assert (r.status_code, r.json()["message"]) == (500, BUSY)
    assert site.faults.fail_call == "list"


def test_a_failure_after_the_work_has_made_the_key(site: Site) -> None:
    code = site.send()
    set_faults(site, fail_call="confirm", fail_after_work=True)
    status, body = create(site, code)
    assert (status, body["message"]) == (500, BUSY)
    (key,) = site.state.keys_for(site.account.email)  # made, and its secret never shown
    assert key.secret_key not in str(body)


def test_send_rate_limited_then_allowed(site: Site) -> None:
    set_faults(site, send_rate_limited=1)
    status, body = site.post("verify/email/send", {"purpose": "create"})
    assert (status, body["message"], body["field"]) == (
        429,
        "Frequency of requests has exceeded the limit, please try again later",
        "emailCode",
    )
    assert site.state.outbox == []
    site.send()  # the refusal started no countdown


def test_a_right_ga_code_refused_once(site: Site) -> None:
    code = site.send()
    set_faults(site, refuse_ga=1)
    status, body = create(site, code)
    assert (status, body["message"]) == (400, "Incorrect Google Authenticator code")
    assert create(site, code)[0] == 200  # the email code was not spent by the refusal


def test_session_expires_after_the_named_call(site: Site) -> None:
    set_faults(site, expire_session_after="send")
    code = site.send()
    assert site.faults.expire_session_after == ""  # once
    assert create(site, code)[0] == 401


def test_resend_mails_two_codes_and_only_the_newer_works(site: Site) -> None:
    set_faults(site, resend_mail=True)
    site.post("verify/email/send", {"purpose": "create"})
    older, newer = (last_code_of(site, i) for i in (0, 1))
    assert older != newer
    assert create(site, older)[1]["message"] == "Incorrect email verification code"
    assert create(site, newer)[0] == 200


def last_code_of(site: Site, index: int) -> str:
    state = SandboxState([site.account])
    state.outbox.append(site.state.outbox[index])
    return last_code(state)


def test_slow_calls_wait(site: Site) -> None:
    set_faults(site, slow_calls={"create": 0.3})
    started = time.monotonic()
    site.post("apikey/precheck", create_body(site))
    assert time.monotonic() - started >= 0.3


def test_duplicated_mail_is_delivered_twice(server: tuple[str, Collect]) -> None:  # noqa: F811
    url, handler = server
    Mailer(MailTarget.parse(url), Faults(duplicate_mail=True)).send(mail("424242"), "a@b.test")
    assert len(handler.envelopes) == 2
    first, second = (message_from_bytes(e[2]) for e in handler.envelopes)
    assert first["Message-ID"] == second["Message-ID"]  # one message, handed over twice
