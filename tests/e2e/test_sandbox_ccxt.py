"""The real ccxt `htx` client against the sandbox over HTTP, configured as the reference says.

Keys are made through the state API (the browser flow has its own tests); every call goes
through ccxt's own signing, URL building and error mapping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest

from sandbox.accounts import Account
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.ratelimit import RateLimits
from sandbox.server import SandboxServer
from sandbox.state import ApiKey, KeyRequest

pytestmark = pytest.mark.e2e

SUB_UIDS = (30000101, 30000102)
API_NAMES = ["status", "contract", "spot", "public", "private", "v2Public", "v2Private"]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    account = Account(
        email="ccxt@example.test",
        password="not used",
        totp_secret=pyotp.random_base32(),
        uid=30000001,
        mailbox="ccxt@example.test",
        sub_uids=SUB_UIDS,
    )
    config = SandboxConfig([account], faults=Faults(latency_ms=0))
    with SandboxServer(config, port=0) as srv:
        yield srv


def account_of(server: SandboxServer) -> Account:
    return server.state.accounts[0]


def make_key(
    server: SandboxServer, perms: tuple[str, ...] = ("read", "trade"), ips: tuple[str, ...] = ()
) -> ApiKey:
    return server.state.add_key(account_of(server), KeyRequest("ccxt", perms, ips))


def client(server: SandboxServer, key: ApiKey, secret: str | None = None, **extra: Any) -> Any:
    """ccxt exactly as shared/htx-reference.md configures it for a local server."""
    import ccxt  # slow import: only the tests that need it pay for it

    host = f"127.0.0.1:{server.port}"
    config: dict[str, Any] = {
        "apiKey": key.access_key,
        "secret": key.secret_key if secret is None else secret,
        "hostname": host,
        "urls": {
            "hostnames": {"spot": host, "contract": host},
            "api": {k: "http://{hostname}" for k in API_NAMES},
        },
        "options": {"fetchMarkets": {"types": {"spot": True, "linear": False, "inverse": False}}},
    }
    config["options"].update(extra.pop("options", {}))
    config.update(extra)
    return ccxt.htx(config)


def fresh_ga_code(secret: str) -> str:
    """A code with time to spare: the sandbox accepts each 30 s step once."""
    while 30 - time.time() % 30 < 3:
        time.sleep(0.2)
    return pyotp.TOTP(secret).now()


def test_fetch_balance(server: SandboxServer) -> None:
    ex = client(server, make_key(server, ("read",)))
    balance = ex.fetch_balance()
    assert balance["USDT"]["free"] == 1000
    assert balance["BTC"]["total"] == 0.05
    assert {"BTC/USDT", "ETH/USDT"} <= set(ex.markets)


def test_uid_and_key_list(server: SandboxServer) -> None:
    key = make_key(server, ("read",), ("127.0.0.1",))
    ex = client(server, key)
    uid = account_of(server).uid
    assert ex.spot_private_get_v2_user_uid() == {"code": 200, "data": uid}
    answer = ex.spot_private_get_v2_user_api_key({"uid": uid, "accessKey": key.access_key})
    [row] = answer["data"]
    assert row["accessKey"] == key.access_key
    assert (row["permission"], row["ipAddresses"], row["validDays"]) == (
        "readOnly",
        "127.0.0.1",
        -1,
    )
    assert ex.spot_private_get_v1_account_accounts()["data"][0]["type"] == "spot"


def test_sub_user_key_lifecycle(server: SandboxServer) -> None:
    parent = client(server, make_key(server))
    sub_uid = SUB_UIDS[0]
    made = parent.spot_private_post_v2_sub_user_api_key_generation(
        {
            "otpToken": fresh_ga_code(account_of(server).totp_secret),
            "subUid": sub_uid,
            "note": "sub via ccxt",
            "permission": "readOnly,trade",
            "ipAddresses": "127.0.0.1",
        }
    )
    assert made["code"] == 200
    data = made["data"]
    assert (data["note"], data["permission"], data["ipAddresses"]) == (
        "sub via ccxt",
        "readOnly,trade",
        "127.0.0.1",
    )
    sub_key = server.state.find_key(data["accessKey"])
    assert sub_key is not None and sub_key.secret_key == data["secretKey"]
    sub = client(server, sub_key)
    assert sub.spot_private_get_v2_user_uid()["data"] == sub_uid

    changed = parent.spot_private_post_v2_sub_user_api_key_modification(
        {
            "subUid": sub_uid,
            "accessKey": data["accessKey"],
            "note": "renamed",
            "permission": "readOnly",
        }
    )
    assert changed == {
        "code": 200,
        "data": {"note": "renamed", "permission": "readOnly", "ipAddresses": "127.0.0.1"},
    }
    rows = parent.spot_private_get_v2_user_api_key({"uid": sub_uid})["data"]
    assert [(r["accessKey"], r["note"]) for r in rows] == [(data["accessKey"], "renamed")]

    gone = parent.spot_private_post_v2_sub_user_api_key_deletion(
        {"subUid": sub_uid, "accessKey": data["accessKey"]}
    )
    assert gone == {"code": 200, "data": None}
    import ccxt

    # A v2 endpoint answers a deleted key with code 1003; a v1 endpoint names the key.
    with pytest.raises(ccxt.AuthenticationError, match="invalid signature"):
        sub.spot_private_get_v2_user_uid()
    with pytest.raises(ccxt.AuthenticationError, match=r"Incorrect Access key \[Access key错误\]"):
        sub.spot_private_get_v1_account_accounts()


def test_tampered_secret(server: SandboxServer) -> None:
    import ccxt

    key = make_key(server)
    first = "1" if key.secret_key[0] == "0" else "0"  # always a different secret
    ex = client(server, key, secret=first + key.secret_key[1:])
    with pytest.raises(ccxt.AuthenticationError, match="Verification failure"):
        ex.fetch_balance()


def test_signature_for_another_host(server: SandboxServer) -> None:
    import ccxt

    ex = client(server, make_key(server))
    # ccxt signs with the hostname while the request still goes to 127.0.0.1:PORT.
    ex.urls["hostnames"]["spot"] = f"localhost:{server.port}"
    ex.urls["api"]["spot"] = f"http://127.0.0.1:{server.port}"
    with pytest.raises(ccxt.AuthenticationError, match="Verification failure"):
        ex.spot_private_get_v2_user_uid()


def test_timestamp_ten_minutes_off(server: SandboxServer) -> None:
    import ccxt

    # ccxt subtracts options.timeDifference (ms) from its clock when it stamps a request.
    ex = client(server, make_key(server), options={"timeDifference": 10 * 60 * 1000})
    with pytest.raises(ccxt.AuthenticationError, match="Invalid submission time"):
        ex.spot_private_get_v2_user_uid()


def test_key_bound_to_another_ip(server: SandboxServer) -> None:
    import ccxt

    ex = client(server, make_key(server, ips=("10.9.9.9",)))
    refused = r"Incorrect IP address \[IP地址错误\]:127\.0\.0\.1"
    with pytest.raises(ccxt.AuthenticationError, match=refused):
        ex.spot_private_get_v1_account_accounts()


def test_read_only_key_cannot_make_sub_user_keys(server: SandboxServer) -> None:
    import ccxt

    ex = client(server, make_key(server, ("read",)))
    with pytest.raises(ccxt.PermissionDenied, match="API key has no permission"):
        ex.spot_private_post_v2_sub_user_api_key_generation(
            {
                "otpToken": "123456",
                "subUid": SUB_UIDS[1],
                "note": "refused",
                "permission": "readOnly",
            }
        )


def test_rate_limit_answers_as_ccxt_sees_them(server: SandboxServer) -> None:
    """v1: ccxt raises RateLimitExceeded; v2: code 1006 comes back as if it had succeeded."""
    import ccxt

    limits = RateLimits(window_s=3600, requests=1, key_requests=1)
    config = SandboxConfig(server.state.accounts, faults=Faults(latency_ms=0), rate_limits=limits)
    with SandboxServer(config, port=0) as own:
        ex = client(own, make_key(own))
        ex.spot_private_get_v1_account_accounts()
        with pytest.raises(ccxt.RateLimitExceeded, match="Frequency of requests"):
            ex.spot_private_get_v1_account_accounts()
        assert ex.spot_private_get_v2_user_uid()["code"] == 200
        assert ex.spot_private_get_v2_user_uid()["code"] == 1006
        assert ex.last_response_headers["X-HB-RateLimit-Requests-Remain"] == "0"


def test_the_oldest_wording_is_still_an_authentication_error(server: SandboxServer) -> None:
    import ccxt

    server.faults.error_texts = "old"
    try:
        ex = client(server, make_key(server, ips=("10.9.9.9",)))
        with pytest.raises(ccxt.AuthenticationError, match="Signature not valid: ip地址错误"):
            ex.spot_private_get_v1_account_accounts()
    finally:
        server.faults.error_texts = "live"
