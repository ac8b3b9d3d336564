"""HtxRest and verify_key through real ccxt against the replica over HTTP: HTX's wordings of an
IP refusal, and the per-account rate limit with its headers.

The replica runs on a clock the test moves, and the client's sleep moves that same clock: the
rate-limit waits happen without any real waiting, so nothing here depends on timing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pyotp
import pytest

from automation.store import KeyRecord
from flows.htx.rest import HtxRest, RateLimited
from flows.htx.verify import verify_key
from sandbox.accounts import Account
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.ratelimit import RateLimits
from sandbox.server import SandboxServer
from sandbox.state import ApiKey, KeyRequest
from tests.support.clock import Clock

pytestmark = pytest.mark.e2e


class Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    account = Account(
        email="limits@example.test",
        password="not used",
        totp_secret=pyotp.random_base32(),
        uid=40000001,
        mailbox="limits@example.test",
    )
    # ccxt stamps requests with the real time: the replica's clock starts there.
    config = SandboxConfig([account], faults=Faults(latency_ms=0))
    with SandboxServer(config, port=0, clock=Clock(time.time())) as srv:
        yield srv


def clock_of(server: SandboxServer) -> Clock:
    clock = server.state._clock  # the Clock given above
    assert isinstance(clock, Clock)
    return clock


def new_key(server: SandboxServer, ips: tuple[str, ...] = ()) -> ApiKey:
    return server.state.add_key(server.state.accounts[0], KeyRequest("e2e", ("read",), ips))


def client(server: SandboxServer, key: ApiKey, said: Said | None = None) -> HtxRest:
    clock = clock_of(server)
    return HtxRest(
        server.base_url,
        key.access_key,
        key.secret_key,
        reporter=said,
        sleep=clock.advance,
        clock=clock,
    )


def record_of(key: ApiKey) -> KeyRecord:
    return KeyRecord(
        access_key=key.access_key,
        secret_key=key.secret_key,
        account="limits@example.test",
        note=key.note,
        permissions=list(key.permissions),
        ip_addresses=list(key.ip_addresses),
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
    )


@pytest.mark.parametrize("form", ["live", "old", "chinese"])
def test_a_key_bound_elsewhere_is_unverifiable_in_every_wording(
    server: SandboxServer, form: str
) -> None:
    server.faults.error_texts = form
    result = verify_key(server.base_url, record_of(new_key(server, ips=("10.9.9.9",))))
    assert (result.status, result.verified) == ("skipped", None), result.reason
    where = "this machine calls from 127.0.0.1" if form == "live" else "this machine is not"
    assert result.reason == (
        f"the key is bound to 10.9.9.9 and {where}, so it cannot be checked from here"
    )


def test_a_deleted_key_still_fails_in_the_old_wording(server: SandboxServer) -> None:
    server.faults.error_texts = "old"
    key = new_key(server)
    server.state.remove_key(server.state.accounts[0], key.access_key)
    result = verify_key(server.base_url, record_of(key))
    assert result.status == "failed"
    assert "HTX refused the key: invalid signature" in result.reason


def test_the_limit_is_shared_by_the_accounts_keys_and_the_client_waits_it_out(
    server: SandboxServer,
) -> None:
    server.config.rate_limits = RateLimits(window_s=2, key_requests=2)
    said = Said()
    first, second = client(server, new_key(server), said), client(server, new_key(server), said)
    uid = server.state.accounts[0].uid
    # Two keys, one account: the third call in the window is refused, then retried.
    assert [first.uid(), second.uid(), first.uid(), second.uid()] == [uid] * 4
    assert any("HTX's rate limit was reached; retrying in" in line for line in said.lines)


def test_a_limit_that_does_not_lift_ends_in_one_line(server: SandboxServer) -> None:
    server.config.rate_limits = RateLimits(window_s=3600, key_requests=1)
    key = new_key(server)
    rest = client(server, key)
    rest.max_wait_s = 0.5  # shorter than the window: every retry is still inside it
    uid = rest.uid()
    with pytest.raises(RateLimited) as caught:
        rest.uid()
    message = caught.value.message
    assert message.startswith(
        "GET /v2/user/uid: HTX's rate limit was reached: Exceed rate limit (3 retries"
    ), message
    assert "\n" not in message and key.secret_key not in message
    # Another endpoint has its own count.
    assert [k["accessKey"] for k in rest.api_keys(uid)] == [key.access_key]
