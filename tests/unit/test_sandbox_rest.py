"""The sandbox's REST API over HTTP (Starlette TestClient, whose Host is "testserver").

Requests are signed with tests/support/htx_sign.py, written apart from sandbox/signing.py.
Keys come from the state API, the same store the website writes to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from starlette.testclient import TestClient

from sandbox.accounts import DEMO_SUB_UIDS, Account, demo_account, load_accounts
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.state import ApiKey, KeyRequest, SandboxState
from tests.support.clock import T0, Clock
from tests.support.htx_sign import query_string, sign_request

HOST = "testserver"
SUB1, SUB2, OTHER_SUB = 10000101, 10000102, 20000101
BAD_KEY = "Signature not valid: Incorrect Access key [Access key错误]"
VERIFICATION = "Signature not valid: Verification failure [校验失败]"
BAD_TIME = (
    "Signature not valid: Invalid submission time or incorrect time format "
    "[无效的提交时间，或时间格式错误]"
)
NO_PERMISSION = "Signature not valid: API key has no permission [API Key没有权限]"
EXPIRED = "APIkey has expired"
INVALID_SIGNATURE = (1003, "invalid signature")
DAY = 86400
CODE_IN_TEXT = re.compile(r"verification code is (\d{6})")


@dataclass
class Api:
    state: SandboxState
    clock: Clock
    parent: Account
    other: Account
    app: Any
    clients: dict[str, TestClient]

    def client(self, ip: str = "127.0.0.1") -> TestClient:
        if ip not in self.clients:
            self.clients[ip] = TestClient(self.app, client=(ip, 50000))
        return self.clients[ip]

    def key(
        self,
        perms: tuple[str, ...] = ("read", "trade"),
        ips: tuple[str, ...] = (),
        account: Account | None = None,
    ) -> ApiKey:
        return self.state.add_key(account or self.parent, KeyRequest("bot", perms, ips))

    @property
    def config(self) -> SandboxConfig:
        config: SandboxConfig = self.app.state.ctx.config
        return config

    def ga(self) -> str:
        return pyotp.TOTP(self.parent.totp_secret).at(int(self.clock()))

    def get(
        self,
        path: str,
        key: ApiKey,
        params: dict[str, object] | None = None,
        *,
        ip: str = "127.0.0.1",
        host: str = HOST,
        timestamp: float | None = None,
    ) -> httpx.Response:
        stamp = self.clock() if timestamp is None else timestamp
        query = sign_request("GET", host, path, params, key.access_key, key.secret_key, stamp)
        return self.client(ip).get(f"{path}?{query_string(query)}")

    def post(
        self, path: str, key: ApiKey, body: dict[str, object], *, ip: str = "127.0.0.1"
    ) -> httpx.Response:
        query = sign_request("POST", HOST, path, body, key.access_key, key.secret_key, self.clock())
        return self.client(ip).post(f"{path}?{query_string(query)}", json=body)

    def generate(self, key: ApiKey, **fields: object) -> httpx.Response:
        """A generation call with good defaults; a field given as None is left out."""
        body: dict[str, object] = {
            "otpToken": self.ga(),
            "subUid": SUB1,
            "note": "sub bot",
            "permission": "readOnly,trade",
            "ipAddresses": "",
        }
        body.update(fields)
        body = {k: v for k, v in body.items() if v is not None}
        return self.post("/v2/sub-user/api-key-generation", key, body)


def account(email: str, uid: int, subs: tuple[int, ...]) -> Account:
    return Account(
        email=email,
        password="correct horse",
        totp_secret=pyotp.random_base32(),
        uid=uid,
        mailbox=email,
        sub_uids=subs,
    )


@pytest.fixture
def api() -> Iterator[Api]:
    parent = account("alice@example.test", 10000001, (SUB1, SUB2))
    other = account("bob@example.test", 20000001, (OTHER_SUB,))
    clock = Clock()
    state = SandboxState([parent, other], clock=clock)
    app = create_app(SandboxConfig([parent, other], faults=Faults(latency_ms=0)), state)
    result = Api(state, clock, parent, other, app, {})
    yield result
    for client in result.clients.values():
        client.close()


def v1_error(r: httpx.Response) -> tuple[str, str]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "error" and body["data"] is None, body
    return body["err-code"], body["err-msg"]


def v2_error(r: httpx.Response) -> tuple[int, str]:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] is None and body["code"] != 200, body
    return body["code"], body["message"]


def v2_data(r: httpx.Response) -> Any:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["code"] == 200, body
    return body["data"]


def sub_key(api: Api, parent_key: ApiKey, **fields: object) -> ApiKey:
    """Generate a sub-user key over REST and return it as the state holds it."""
    data = v2_data(api.generate(parent_key, **fields))
    api.clock.advance(30)  # the GA code is spent: the next one needs the next step
    key = api.state.find_key(data["accessKey"])
    assert key is not None and key.secret_key == data["secretKey"]
    return key


# -- public endpoints ----------------------------------------------------------------------------


def test_public_market_data(api: Api) -> None:
    c = api.client()
    symbols = c.get("/v1/common/symbols").json()
    assert symbols["status"] == "ok"
    names = {s["symbol"] for s in symbols["data"]}
    assert {"btcusdt", "ethusdt"} <= names
    for s in symbols["data"]:
        for field in ("base-currency", "quote-currency", "price-precision", "amount-precision"):
            assert field in s
        assert s["state"] == "online"
    currencies = c.get("/v2/reference/currencies").json()
    assert currencies["code"] == 200
    assert {"usdt", "btc"} <= {x["currency"] for x in currencies["data"]}
    assert all(x["chains"] and x["instStatus"] == "normal" for x in currencies["data"])
    assert c.get("/v1/common/currencys").json() == {"status": "ok", "data": ["usdt", "btc", "eth"]}
    assert c.get("/v1/common/timestamp").json() == {"status": "ok", "data": int(T0) * 1000}
    assert c.get("/v2/market-status").json()["data"] == {"marketStatus": 1}


# -- signed reads ----------------------------------------------------------------------------------


def test_accounts_and_balance(api: Api) -> None:
    key = api.key()
    r = api.get("/v1/account/accounts", key)
    account_id = 100_000_000 + api.parent.uid
    assert r.json() == {
        "status": "ok",
        "data": [{"id": account_id, "type": "spot", "subtype": "", "state": "working"}],
    }
    data = api.get(f"/v1/account/accounts/{account_id}/balance", key).json()["data"]
    assert (data["id"], data["type"], data["state"]) == (account_id, "spot", "working")
    rows = {(x["currency"], x["type"]): x["balance"] for x in data["list"]}
    assert rows[("usdt", "trade")] == "1000" and rows[("btc", "trade")] == "0.05"
    assert rows[("usdt", "frozen")] == "0"


@pytest.mark.parametrize("which", ["other", "nonsense"])
def test_balance_of_someone_elses_account_does_not_exist(api: Api, which: str) -> None:
    key = api.key()
    given = str(100_000_000 + api.other.uid) if which == "other" else "abc"
    r = api.get(f"/v1/account/accounts/{given}/balance", key)
    assert v1_error(r) == (
        "account-get-balance-account-inexistent-error",
        f"account for id `{given}` and user id `{api.parent.uid}` does not exist",
    )


def test_uid(api: Api) -> None:
    assert api.get("/v2/user/uid", api.key()).json() == {"code": 200, "data": api.parent.uid}


def test_api_key_lists_web_keys_with_every_field(api: Api) -> None:
    plain = api.key(("read",))
    bound = api.key(("read", "trade"), ("10.0.0.1", "192.168.0.0/24"))
    answer = api.get("/v2/user/api-key", plain, {"uid": api.parent.uid}).json()
    assert (answer["code"], answer["message"], answer["ok"]) == (200, "success", True)
    rows = answer["data"]
    assert [r["accessKey"] for r in rows] == [plain.access_key, bound.access_key]
    ms = int(T0) * 1000
    assert rows[0] == {
        "accessKey": plain.access_key,
        "note": "bot",
        "permission": "readOnly",
        "ipAddresses": "",
        "validDays": -1,  # read-only without IPs: HTX does not deactivate it
        "status": "normal",
        "createTime": ms,
        "updateTime": ms,
    }
    assert rows[1]["permission"] == "readOnly,trade"
    assert rows[1]["ipAddresses"] == "10.0.0.1,192.168.0.0/24"
    assert rows[1]["validDays"] == -1
    assert "secretKey" not in rows[0]
    one = v2_data(
        api.get("/v2/user/api-key", plain, {"uid": api.parent.uid, "accessKey": bound.access_key})
    )
    assert [r["accessKey"] for r in one] == [bound.access_key]
    none = v2_data(api.get("/v2/user/api-key", plain, {"uid": api.parent.uid, "accessKey": "x"}))
    assert none == []


def test_api_key_needs_own_uid(api: Api) -> None:
    key = api.key()
    assert v2_error(api.get("/v2/user/api-key", key)) == (2003, "missing mandatory field `uid`")
    for uid in (api.other.uid, OTHER_SUB, "abc"):
        r = api.get("/v2/user/api-key", key, {"uid": uid})
        assert v2_error(r) == (2002, "invalid field value in `uid`")


def test_key_made_through_the_website_works_over_rest(api: Api) -> None:
    c = api.client()
    r = c.post(
        "/-/x/web/login/password",
        json={"account": api.parent.email, "password": api.parent.password},
    )
    ticket = r.json()["data"]["ticket"]
    assert c.post("/-/x/web/login/ga", json={"ticket": ticket, "gaCode": api.ga()}).is_success
    api.clock.advance(30)
    assert c.post("/-/x/web/verify/email/send", json={"purpose": "create"}).is_success
    _rcpt, msg = api.state.outbox[-1]
    text = msg.get_body(("plain",))
    assert text is not None
    match = CODE_IN_TEXT.search(text.get_content())
    assert match
    body = {
        "note": "from the web",
        "permissions": ["read"],
        "ips": "",
        "emailCode": match.group(1),
        "gaCode": api.ga(),
    }
    created = c.post("/-/x/web/apikey/create", json=body).json()["data"]
    key = api.state.find_key(created["accessKey"])
    assert key is not None
    assert api.get("/v2/user/uid", key).json()["data"] == api.parent.uid
    rows = v2_data(api.get("/v2/user/api-key", key, {"uid": api.parent.uid}))
    assert [(r["accessKey"], r["note"]) for r in rows] == [(key.access_key, "from the web")]


# -- gateway refusals --------------------------------------------------------------------------


def test_unknown_and_deleted_keys(api: Api) -> None:
    key = api.key()
    api.state.remove_key(api.parent, key.access_key)
    assert v1_error(api.get("/v1/account/accounts", key)) == ("api-signature-not-valid", BAD_KEY)
    fake = ApiKey("nope", "nope", "n", ("read",), (), api.state.now(), "x", 1)
    assert v1_error(api.get("/v1/account/accounts", fake)) == ("api-signature-not-valid", BAD_KEY)
    # v2 endpoints answer an unknown or invalidated key in their own form (ccxt#16319).
    assert v2_error(api.get("/v2/user/uid", key)) == INVALID_SIGNATURE
    assert v2_error(api.get("/v2/user/api-key", fake, {"uid": 1})) == INVALID_SIGNATURE


def test_bad_signature(api: Api) -> None:
    key = api.key()
    query = sign_request("GET", HOST, "/v2/user/uid", {}, key.access_key, "wrong", api.clock())
    r = api.client().get(f"/v2/user/uid?{query_string(query)}")
    assert v1_error(r) == ("api-signature-not-valid", VERIFICATION)


def test_signature_for_another_host(api: Api) -> None:
    r = api.get("/v2/user/uid", api.key(), host="api.huobi.pro")
    assert v1_error(r) == ("api-signature-not-valid", VERIFICATION)


@pytest.mark.parametrize("offset_s", [-600, 301])
def test_stale_timestamp(api: Api, offset_s: int) -> None:
    r = api.get("/v2/user/uid", api.key(), timestamp=api.clock() + offset_s)
    assert v1_error(r) == ("api-signature-not-valid", BAD_TIME)


@pytest.mark.parametrize("name", ["AccessKeyId", "Signature"])
def test_missing_auth_parameter_is_login_required(api: Api, name: str) -> None:
    key = api.key()
    query = sign_request("GET", HOST, "/v2/user/uid", {}, key.access_key, key.secret_key, T0)
    del query[name]
    r = api.client().get(f"/v2/user/uid?{query_string(query)}")
    assert v1_error(r) == ("login-required", f"Parameter `{name}` is required.")
    assert v1_error(api.client().get("/v1/account/accounts"))[0] == "login-required"


@pytest.mark.parametrize(
    ("bound", "ip", "ok"),
    [
        (("10.9.9.9",), "127.0.0.1", False),
        (("10.9.9.9",), "10.9.9.9", True),
        (("192.168.0.0/24",), "192.168.0.77", True),
        (("192.168.0.0/24",), "192.168.1.1", False),
        (("2001:db8::1",), "2001:db8::1", True),
        (("10.9.9.9",), "::ffff:10.9.9.9", True),
        ((), "203.0.113.5", True),
    ],
)
def test_ip_whitelist(api: Api, bound: tuple[str, ...], ip: str, ok: bool) -> None:
    r = api.get("/v2/user/uid", api.key(ips=bound), ip=ip)
    if ok:
        assert r.json()["data"] == api.parent.uid
    else:
        expected = f"Signature not valid: Incorrect IP address [IP地址错误]:{ip}"
        assert v1_error(r) == ("api-signature-not-valid", expected)


def test_a_trade_key_without_ip_expires_after_90_days_unused(api: Api) -> None:
    plain, bound, read_only = api.key(), api.key(ips=("127.0.0.1",)), api.key(("read",))
    api.clock.advance(90 * DAY)
    assert v1_error(api.get("/v1/account/accounts", plain)) == ("api-signature-not-valid", EXPIRED)
    assert v2_error(api.get("/v2/user/uid", plain)) == INVALID_SIGNATURE
    assert api.get("/v2/user/uid", bound).json()["data"] == api.parent.uid
    assert api.get("/v2/user/uid", read_only).json()["data"] == api.parent.uid
    rows = v2_data(api.get("/v2/user/api-key", bound, {"uid": api.parent.uid}))
    assert [(r["status"], r["validDays"]) for r in rows] == [
        ("expired", 0),
        ("normal", -1),
        ("normal", -1),
    ]


def test_each_use_restarts_the_90_days(api: Api) -> None:
    key = api.key(("read", "withdraw"))
    api.key()  # never used: it expires
    api.clock.advance(89 * DAY)
    assert api.get("/v2/user/uid", key).json()["data"] == api.parent.uid  # a use: 90 days again
    api.clock.advance(89 * DAY)

    def days() -> list[tuple[str, int]]:
        rows = v2_data(api.get("/v2/user/api-key", key, {"uid": api.parent.uid}))
        return [(r["status"], r["validDays"]) for r in rows]

    assert days() == [("normal", 90), ("expired", 0)]  # the listing call was a use too
    api.clock.advance(90 * DAY)
    # Unused for 90 days: it has expired, and no call gets through to count as a use.
    assert v2_error(api.get("/v2/user/uid", key)) == INVALID_SIGNATURE
    assert api.state.find_key(key.access_key).status == "expired"  # type: ignore[union-attr]


def test_a_refused_call_is_not_a_use(api: Api) -> None:
    key = api.key(("read", "trade"))
    api.clock.advance(80 * DAY)
    assert v1_error(api.get("/v2/user/uid", key, host="elsewhere"))[1] == VERIFICATION
    found = api.state.find_key(key.access_key)
    assert found is not None and found.valid_days_at(api.state.now()) == 10


@pytest.mark.parametrize(
    ("form", "ip", "time", "signature"),
    [
        (
            "live",
            "Signature not valid: Incorrect IP address [IP地址错误]:127.0.0.1",
            BAD_TIME,
            VERIFICATION,
        ),
        (
            "old",
            "Signature not valid: ip地址错误",
            "Signature not valid: 无效的提交时间",
            "Signature not valid: 校验失败",
        ),
        (
            "chinese",
            "API签名无效: ip地址错误",
            "API签名无效: 无效的提交时间",
            "API签名无效: 校验失败",
        ),
    ],
)
def test_refusals_in_each_wording(api: Api, form: str, ip: str, time: str, signature: str) -> None:
    api.config.faults.error_texts = form
    key = api.key()
    assert v1_error(api.get("/v2/user/uid", api.key(ips=("10.9.9.9",))))[1] == ip
    assert v1_error(api.get("/v2/user/uid", key, timestamp=api.clock() - 600))[1] == time
    assert v1_error(api.get("/v2/user/uid", key, host="elsewhere"))[1] == signature


def test_an_unknown_wording_is_refused() -> None:
    with pytest.raises(ValueError, match="error_texts must be one of live, old, chinese"):
        Faults(error_texts="english")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/Account/accounts"),
        ("GET", "/V2/user/uid"),
        ("GET", "/v2/user/uid/"),
        ("GET", "/v2/nothing"),
        ("POST", "/v2/user/uid"),
        ("GET", "/v2/sub-user/api-key-generation"),
        ("POST", "/v1/common/symbols"),
    ],
)
def test_wrong_path_or_method_is_405(api: Api, method: str, path: str) -> None:
    r = api.client().request(method, path, json={} if method == "POST" else None)
    assert r.status_code == 405
    assert r.json() == {
        "status": "error",
        "err-code": "method-not-allowed",
        "err-msg": "Method Not Allowed",
        "data": None,
    }


def test_website_paths_keep_their_404(api: Api) -> None:
    assert api.client().get("/en-us/nothing/").status_code == 404


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
        (b'{"subUid": 1}', "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_post_body_not_json(api: Api, content: bytes, content_type: str) -> None:
    key = api.key()
    path = "/v2/sub-user/api-key-deletion"
    query = sign_request("POST", HOST, path, {}, key.access_key, key.secret_key, T0)
    r = api.client().post(
        f"{path}?{query_string(query)}", content=content, headers={"Content-Type": content_type}
    )
    assert v1_error(r) == ("gateway-internal-error", "Failed to load data. Try again later.")


# -- sub-user keys -------------------------------------------------------------------------------


def test_generate_sub_user_key(api: Api) -> None:
    parent_key = api.key()
    data = v2_data(api.generate(parent_key, ipAddresses="127.0.0.1, 10.0.0.0/8"))
    assert set(data) == {"accessKey", "secretKey", "note", "permission", "ipAddresses"}
    assert (data["note"], data["permission"]) == ("sub bot", "readOnly,trade")
    assert data["ipAddresses"] == "127.0.0.1,10.0.0.0/8"
    key = api.state.find_key(data["accessKey"])
    assert key is not None and key.uid == SUB1
    # The sub-user's key signs like any other, and is its own user's.
    assert api.get("/v2/user/uid", key).json()["data"] == SUB1
    sub_rows = v2_data(api.get("/v2/user/api-key", parent_key, {"uid": SUB1}))
    assert [r["accessKey"] for r in sub_rows] == [key.access_key]
    assert "secretKey" not in sub_rows[0]
    assert v2_data(api.get("/v2/user/api-key", key, {"uid": SUB1}))[0]["accessKey"] == (
        key.access_key
    )
    # ...but it is nowhere on the parent's side: not in its REST list, not in its web table.
    own = v2_data(api.get("/v2/user/api-key", parent_key, {"uid": api.parent.uid}))
    assert [r["accessKey"] for r in own] == [parent_key.access_key]
    assert [k.access_key for k in api.state.keys_for(api.parent.email)] == [parent_key.access_key]
    # A sub-user may not look at its parent's keys, nor at a sibling's.
    for uid in (api.parent.uid, SUB2):
        r = api.get("/v2/user/api-key", key, {"uid": uid})
        assert v2_error(r) == (2002, "invalid field value in `uid`")
    accounts = api.get("/v1/account/accounts", key).json()["data"]
    assert accounts[0]["id"] == 100_000_000 + SUB1


def test_generation_refuses_a_ga_code_used_at_web_login(api: Api) -> None:
    c = api.client()
    r = c.post(
        "/-/x/web/login/password",
        json={"account": api.parent.email, "password": api.parent.password},
    )
    code = api.ga()
    assert c.post(
        "/-/x/web/login/ga", json={"ticket": r.json()["data"]["ticket"], "gaCode": code}
    ).is_success
    parent_key = api.key()
    assert v2_error(api.generate(parent_key, otpToken=code)) == (1003, "invalid otpToken")
    api.clock.advance(30)
    assert v2_data(api.generate(parent_key))["accessKey"]


def test_generation_follows_the_sandbox_ga_step() -> None:
    """A sandbox run with a short GA step uses it for the REST call too."""
    parent = account("alice@example.test", 10000001, (SUB1,))
    clock = Clock()
    state = SandboxState([parent], clock=clock, totp_step_s=5)
    app = create_app(SandboxConfig([parent], faults=Faults(latency_ms=0), totp_step_s=5), state)
    api = Api(state, clock, parent, parent, app, {})
    parent_key = api.key()
    totp = pyotp.TOTP(parent.totp_secret, interval=5)
    too_old = totp.at(int(clock()) - 10)  # two steps back, inside the same 30 s window
    assert v2_error(api.generate(parent_key, otpToken=too_old)) == (1003, "invalid otpToken")
    assert v2_data(api.generate(parent_key, otpToken=totp.at(int(clock()))))["accessKey"]
    clock.advance(5)  # one short step, not a 30 s window, to the next fresh code
    assert v2_data(api.generate(parent_key, otpToken=totp.at(int(clock()))))["accessKey"]
    for client in api.clients.values():
        client.close()


def test_generation_ga_code_is_good_once_and_spent_only_on_success(api: Api) -> None:
    parent_key = api.key()
    code = api.ga()
    # A refusal for a field leaves the code unused...
    assert v2_error(api.generate(parent_key, otpToken=code, note="")) == (
        2003,
        "missing mandatory field `note`",
    )
    assert v2_data(api.generate(parent_key, otpToken=code))
    # ...a success spends it, and an old or wrong code never works.
    assert v2_error(api.generate(parent_key, otpToken=code)) == (1003, "invalid otpToken")
    api.clock.advance(30)
    assert v2_error(api.generate(parent_key, otpToken="000000"))[0] == 1003
    assert v2_error(api.generate(parent_key, otpToken="12345"))[0] == 1003


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"otpToken": None}, (2003, "missing mandatory field `otpToken`")),
        ({"subUid": None}, (2003, "missing mandatory field `subUid`")),
        ({"subUid": 10000001}, (2002, "invalid field value in `subUid`")),
        ({"subUid": OTHER_SUB}, (2002, "invalid field value in `subUid`")),
        ({"subUid": "x"}, (2002, "invalid field value in `subUid`")),
        ({"subUid": True}, (2002, "invalid field value in `subUid`")),
        ({"note": None}, (2003, "missing mandatory field `note`")),
        ({"note": "n" * 256}, (2002, "invalid field value in `note`")),
        ({"note": 5}, (2002, "invalid field value in `note`")),
        ({"permission": None}, (2003, "missing mandatory field `permission`")),
        ({"permission": "trade"}, (2002, "invalid field value in `permission`")),
        ({"permission": "readOnly,withdraw"}, (2002, "invalid field value in `permission`")),
        ({"permission": ["readOnly"]}, (2002, "invalid field value in `permission`")),
        ({"ipAddresses": "300.1.1.1"}, (2002, "invalid field value in `ipAddresses`")),
        (
            {"ipAddresses": ",".join(f"10.0.0.{i}" for i in range(21))},
            (2002, "invalid field value in `ipAddresses`"),
        ),
    ],
)
def test_generation_field_checks(
    api: Api, fields: dict[str, object], error: tuple[int, str]
) -> None:
    assert v2_error(api.generate(api.key(), **fields)) == error


def test_generation_accepts_255_characters_and_20_ips(api: Api) -> None:
    ips = ",".join(f"10.0.0.{i}" for i in range(20))
    data = v2_data(api.generate(api.key(), note="n" * 255, ipAddresses=ips, permission="readOnly"))
    assert data["permission"] == "readOnly" and data["ipAddresses"] == ips


def test_at_most_5_keys_per_sub_user(api: Api) -> None:
    parent_key = api.key()
    for _ in range(5):
        sub_key(api, parent_key)
    refused = v2_error(api.generate(parent_key))
    assert refused == (2014, "number of api key in the request exceeded valid range")
    # The refused call did not spend the code; another sub-user still has room.
    assert v2_data(api.generate(parent_key, subUid=SUB2))


def test_sub_user_management_needs_trade_and_a_parent_key(api: Api) -> None:
    read_only = api.key(("read",))
    assert v1_error(api.generate(read_only)) == ("api-signature-not-valid", NO_PERMISSION)
    parent_key = api.key()
    sub = sub_key(api, parent_key)
    assert "trade" in sub.permissions
    for path in ("generation", "modification", "deletion"):
        body = {"subUid": SUB1, "accessKey": sub.access_key, "otpToken": api.ga()}
        r = api.post(f"/v2/sub-user/api-key-{path}", sub, body)
        assert v1_error(r) == ("api-signature-not-valid", NO_PERMISSION)
        r = api.post(f"/v2/sub-user/api-key-{path}", read_only, body)
        assert v1_error(r) == ("api-signature-not-valid", NO_PERMISSION)


def test_modify_sub_user_key(api: Api) -> None:
    parent_key = api.key()
    sub = sub_key(api, parent_key, ipAddresses="127.0.0.1")
    path = "/v2/sub-user/api-key-modification"
    api.clock.advance(60)
    body = {
        "subUid": SUB1,
        "accessKey": sub.access_key,
        "note": "renamed",
        "permission": "readOnly",
    }
    data = v2_data(api.post(path, parent_key, body))
    assert data == {"note": "renamed", "permission": "readOnly", "ipAddresses": "127.0.0.1"}
    row = v2_data(api.get("/v2/user/api-key", parent_key, {"uid": SUB1}))[0]
    assert row["updateTime"] - row["createTime"] == 90_000
    assert (row["note"], row["permission"], row["validDays"]) == ("renamed", "readOnly", -1)
    # Unbinding every IP makes a trade key a 90-day key; a field left out stays.
    changes = {"ipAddresses": "", "note": None, "permission": "readOnly,trade"}
    data = v2_data(api.post(path, parent_key, {**body, **changes}))
    assert data == {"note": "renamed", "permission": "readOnly,trade", "ipAddresses": ""}
    row = v2_data(api.get("/v2/user/api-key", parent_key, {"uid": SUB1}))[0]
    assert row["validDays"] == 90
    # The changed key still signs with its secret.
    assert api.get("/v2/user/uid", sub).json()["data"] == SUB1


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"accessKey": "unknown"}, (2002, "invalid field value in `accessKey`")),
        ({"subUid": SUB2}, (2002, "invalid field value in `accessKey`")),
        ({"subUid": OTHER_SUB}, (2002, "invalid field value in `subUid`")),
        ({"accessKey": None}, (2003, "missing mandatory field `accessKey`")),
        ({"permission": "readOnly,withdraw"}, (2002, "invalid field value in `permission`")),
        ({"note": " "}, (2002, "invalid field value in `note`")),
    ],
)
def test_modify_and_delete_checks(
    api: Api, fields: dict[str, object], error: tuple[int, str]
) -> None:
    parent_key = api.key()
    sub = sub_key(api, parent_key)
    body: dict[str, object] = {"subUid": SUB1, "accessKey": sub.access_key, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    assert v2_error(api.post("/v2/sub-user/api-key-modification", parent_key, body)) == error
    if "permission" not in fields and "note" not in fields:
        assert v2_error(api.post("/v2/sub-user/api-key-deletion", parent_key, body)) == error


def test_delete_sub_user_key(api: Api) -> None:
    parent_key = api.key()
    sub = sub_key(api, parent_key)
    body = {"subUid": SUB1, "accessKey": sub.access_key}
    r = api.post("/v2/sub-user/api-key-deletion", parent_key, body)
    assert r.json() == {"code": 200, "data": None}
    assert v2_error(api.get("/v2/user/uid", sub)) == INVALID_SIGNATURE
    assert v1_error(api.get("/v1/account/accounts", sub)) == ("api-signature-not-valid", BAD_KEY)
    assert v2_data(api.get("/v2/user/api-key", parent_key, {"uid": SUB1})) == []
    assert v2_error(api.post("/v2/sub-user/api-key-deletion", parent_key, body))[0] == 2002


def test_another_parent_cannot_touch_these_sub_users(api: Api) -> None:
    parent_key = api.key()
    sub = sub_key(api, parent_key)
    stranger = api.key(account=api.other)
    body = {"subUid": SUB1, "accessKey": sub.access_key}
    r = api.post("/v2/sub-user/api-key-deletion", stranger, body)
    assert v2_error(r) == (2002, "invalid field value in `subUid`")
    r = api.get("/v2/user/api-key", stranger, {"uid": SUB1})
    assert v2_error(r) == (2002, "invalid field value in `uid`")


# -- rate limits ---------------------------------------------------------------------------------

REMAIN, EXPIRE = "X-HB-RateLimit-Requests-Remain", "X-HB-RateLimit-Requests-Expire"


def test_signed_answers_say_what_is_left_of_the_window(api: Api) -> None:
    key = api.key()
    first = api.get("/v2/user/uid", key)
    assert (first.headers[REMAIN], first.headers[EXPIRE]) == ("19", str(int((T0 + 2) * 1000)))
    api.clock.advance(1)
    second = api.get("/v2/user/uid", key)
    assert (second.headers[REMAIN], second.headers[EXPIRE]) == ("18", first.headers[EXPIRE])
    assert api.get("/v1/account/accounts", key).headers[REMAIN] == "99"  # its own count
    assert REMAIN not in api.client().get("/v1/common/symbols").headers  # public: not counted


def test_the_limit_is_per_account_across_its_keys(api: Api) -> None:
    api.config.rate_limits.key_requests = 2
    a, b, stranger = api.key(), api.key(), api.key(account=api.other)
    assert api.get("/v2/user/uid", a).json()["data"] == api.parent.uid
    assert api.get("/v2/user/uid", b).json()["data"] == api.parent.uid
    refused = api.get("/v2/user/uid", a)
    assert v2_error(refused) == (1006, "Exceed rate limit")
    assert refused.headers[REMAIN] == "0"
    assert api.get("/v2/user/uid", stranger).json()["data"] == api.other.uid
    assert v2_data(api.get("/v2/user/api-key", b, {"uid": api.parent.uid}))  # another endpoint
    api.clock.advance(2)  # the window is over
    assert api.get("/v2/user/uid", b).json()["data"] == api.parent.uid


def test_v1_endpoints_refuse_in_the_v1_form(api: Api) -> None:
    api.config.rate_limits.requests = 1
    key = api.key()
    assert api.get("/v1/account/accounts", key).json()["status"] == "ok"
    assert v1_error(api.get("/v1/account/accounts", key)) == (
        "base-request-exceed-frequency-limit",
        "Frequency of requests has exceeded the limit, please try again later",
    )


def test_rate_limits_can_be_turned_off(api: Api) -> None:
    api.config.rate_limits.key_requests = 1
    api.config.rate_limits.enabled = False
    key = api.key()
    answers = [api.get("/v2/user/uid", key) for _ in range(3)]
    assert [r.json()["data"] for r in answers] == [api.parent.uid] * 3
    assert REMAIN not in answers[0].headers


# -- accounts file: sub-users --------------------------------------------------------------------

ACCOUNT = """
[[account]]
email = "a@example.test"
password = "pw"
totp_secret = "JBSWY3DPEHPK3PXP"
uid = 1
"""


def test_demo_account_has_two_sub_users() -> None:
    assert demo_account().sub_uids == DEMO_SUB_UIDS
    assert len(DEMO_SUB_UIDS) == 2


def test_sub_uids_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(ACCOUNT + "sub_uids = [11, 12]\n", encoding="utf-8")
    assert load_accounts(path)[0].sub_uids == (11, 12)
    path.write_text(ACCOUNT, encoding="utf-8")
    assert load_accounts(path)[0].sub_uids == ()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("sub_uids = 11\n", "sub_uids must be a list of positive integers"),
        ('sub_uids = ["11"]\n', "sub_uids must be a list of positive integers"),
        ("sub_uids = [true]\n", "sub_uids must be a list of positive integers"),
        ("sub_uids = [0]\n", "sub_uids must be a list of positive integers"),
        ("sub_uids = [11, 11]\n", "sub_uids must be unique and differ from uid"),
        ("sub_uids = [1]\n", "sub_uids must be unique and differ from uid"),
    ],
)
def test_bad_sub_uids(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "a.toml"
    path.write_text(ACCOUNT + extra, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_accounts(path)


def test_sub_uid_may_not_be_another_users_uid(tmp_path: Path) -> None:
    second = ACCOUNT.replace("a@", "b@").replace("uid = 1", "uid = 2")
    path = tmp_path / "a.toml"
    path.write_text(ACCOUNT + "sub_uids = [2]\n" + second, encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate uid: 2"):
        load_accounts(path)
