"""HtxRest's reading of HTX's answers, against a fake ccxt client: the error kinds in each of
HTX's wordings, v2 codes that ccxt hands back as successes, and the rate-limit retries.

The replica's own answers through real ccxt are in tests/e2e/test_rest_client_e2e.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from automation.errors import RejectedError, SiteError
from automation.store import KeyRecord
from flows.htx import verify
from flows.htx.htx_errors import classify, refusal_of, refused_address
from flows.htx.rest import (
    ClockRefused,
    HtxRest,
    IpNotAllowed,
    KeyRefused,
    RateLimited,
    seconds_until,
)

NOW = 1_800_000_000.0
SIG = "api-signature-not-valid"
IP_FORMS = {
    "live": "Signature not valid: Incorrect IP address [IP地址错误]:203.0.113.9",
    "old": "Signature not valid: ip地址错误",
    "chinese": "API签名无效: ip地址错误",
}


def v1_refusal(code: str, msg: str) -> dict[str, Any]:
    return {"status": "error", "err-code": code, "err-msg": msg, "data": None}


Answer = tuple[dict[str, Any], dict[str, str], type[BaseException] | None]


class FakeCcxt:
    """Stands in for ccxt.htx: each call takes the next (body, headers, raises) in order."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.last_http_response: str | None = None
        self.last_response_headers: dict[str, str] | None = None

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if not name.startswith("spot_"):
            raise AttributeError(name)

        def call(_params: dict[str, Any] | None = None) -> Any:
            self.calls.append(name)
            body, headers, raises = self.answers.pop(0)
            self.last_http_response = json.dumps(body)
            self.last_response_headers = headers
            if raises is not None:
                raise raises(f"htx {json.dumps(body)}")
            return body

        return call


class Said:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


class Sleeps:
    """A sleep that only moves the fake clock: no test waits, and each wait is recorded."""

    def __init__(self) -> None:
        self.now = NOW
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 3))
        self.now += seconds


def rest(answers: list[Answer], said: Said | None = None, sleeps: Sleeps | None = None) -> HtxRest:
    sleeps = sleeps or Sleeps()
    client = HtxRest(
        "http://127.0.0.1:1",
        "ak-ak",
        "not-a-real-secret-0001",
        reporter=said,
        sleep=sleeps.sleep,
        clock=lambda: sleeps.now,
    )
    client.client = FakeCcxt(answers)
    return client


def auth_error() -> type[BaseException]:
    import ccxt

    return ccxt.AuthenticationError


def key_record() -> KeyRecord:
    return KeyRecord(
        access_key="ak-ak",
        secret_key="not-a-real-secret-0001",
        account="a@example.test",
        note="bot",
        permissions=["read", "trade"],
        ip_addresses=["10.9.9.9"],
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
    )


# -- reading a refusal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "message", "kind"),
    [
        (SIG, IP_FORMS["live"], "ip"),
        (SIG, IP_FORMS["old"], "ip"),
        (SIG, IP_FORMS["chinese"], "ip"),
        (SIG, "Signature not valid: Incorrect IP address: 1.2.3.4", "ip"),
        (SIG, "Signature not valid: Verification failure [校验失败]", "signature"),
        (SIG, "API签名无效: 校验失败", "signature"),
        (SIG, "Signature not valid: Incorrect Access key [Access key错误]", "key"),
        (
            SIG,
            "Signature not valid: Invalid submission time or incorrect time format "
            "[无效的提交时间，或时间格式错误]",
            "time",
        ),
        (SIG, "Signature not valid: 无效的提交时间", "time"),
        (SIG, "Signature not valid: API key has no permission [API Key没有权限]", "permission"),
        (SIG, "APIkey has expired", "expired"),
        (SIG, "something new", "auth"),
        ("login-required", "Parameter `Signature` is required.", "auth"),
        ("1003", "invalid signature", "key"),
        ("base-request-exceed-frequency-limit", "Frequency of requests has exceeded", "rate"),
        ("invalid-parameter", "request limit", "rate"),
        ("1006", "Exceed rate limit", "rate"),
        ("40403", "Too many requests.", "rate"),
        ("2002", "invalid field value in `subUid`", "other"),
    ],
)  # fmt: skip
def test_kinds_by_code_then_words(code: str, message: str, kind: str) -> None:
    assert classify(code, message) == kind


def test_the_refused_address_when_htx_names_it() -> None:
    assert refused_address(IP_FORMS["live"]) == "203.0.113.9"
    assert refused_address("Signature not valid: Incorrect IP address: 2001:db8::1") == (
        "2001:db8::1"
    )
    assert refused_address(IP_FORMS["old"]) == refused_address(IP_FORMS["chinese"]) == ""


def test_answers_that_are_refusals() -> None:
    assert refusal_of({"status": "ok", "data": []}) is None
    assert refusal_of({"code": 200, "data": 5, "ok": True}) is None
    futures = refusal_of({"status": "error", "err_code": 403, "err_msg": "Incorrect Access key"})
    assert futures is not None and (futures.kind, futures.code) == ("key", "403")
    v2 = refusal_of({"code": 2014, "message": "number of api key exceeded", "data": None})
    assert v2 is not None and (v2.kind, v2.code) == ("other", "2014")


# -- the client ------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", list(IP_FORMS))
def test_an_ip_refusal_in_any_wording_is_ip_not_allowed(form: str) -> None:
    body = v1_refusal("api-signature-not-valid", IP_FORMS[form])
    with pytest.raises(IpNotAllowed) as caught:
        rest([(body, {}, auth_error())]).uid()
    assert caught.value.address == ("203.0.113.9" if form == "live" else "")
    assert caught.value.message.startswith("GET /v2/user/uid: HTX refused this machine's address")


@pytest.mark.parametrize("form", list(IP_FORMS))
def test_a_key_refused_for_its_ip_is_never_a_failed_key(
    form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = v1_refusal("api-signature-not-valid", IP_FORMS[form])
    monkeypatch.setattr(verify, "HtxRest", lambda *_a, **_k: rest([(body, {}, auth_error())]))
    result = verify.verify_key("http://127.0.0.1:1", key_record())
    assert (result.status, result.verified) == ("skipped", None)
    assert result.reason.endswith("so it cannot be checked from here"), result.reason
    assert "10.9.9.9" in result.reason


def test_a_rate_limit_that_holds_leaves_the_key_unchecked_not_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    busy = {"code": 1006, "message": "Exceed rate limit", "data": None}
    monkeypatch.setattr(verify, "HtxRest", lambda *_a, **_k: rest([(busy, {}, None)] * 4))
    result = verify.verify_key("http://127.0.0.1:1", key_record())
    assert (result.status, result.verified) == ("skipped", None)
    assert result.reason.startswith("the key cannot be checked now: GET /v2/user/uid: HTX's rate")


def test_other_auth_refusals_and_the_clock() -> None:
    bad_key = v1_refusal("api-signature-not-valid", "Signature not valid: 校验失败")
    with pytest.raises(KeyRefused, match="HTX refused the key: Signature not valid: 校验失败"):
        rest([(bad_key, {}, auth_error())]).accounts()
    clock = v1_refusal("api-signature-not-valid", "Signature not valid: 无效的提交时间")
    with pytest.raises(ClockRefused) as caught:
        rest([(clock, {}, auth_error())]).accounts()
    assert caught.value.hint and "clock" in caught.value.hint


def test_v2_codes_ccxt_returns_as_success_are_errors() -> None:
    answer = {"code": 2002, "message": "invalid field value in `uid`", "data": None}
    with pytest.raises(RejectedError, match=r"HTX answered 2002: invalid field value in `uid`"):
        rest([(answer, {}, None)]).api_keys(1)


def test_unreachable_api_is_a_site_error() -> None:
    import ccxt

    client = rest([({}, {}, ccxt.NetworkError)])
    client.client.answers[0] = ({}, {}, ccxt.NetworkError)
    client.client.last_http_response = None
    with pytest.raises(SiteError, match="cannot reach the HTX API"):
        client.uid()


def test_a_rate_limited_call_waits_for_the_window_and_retries() -> None:
    import ccxt

    said, sleeps = Said(), Sleeps()
    window_end = str(int((NOW + 1.5) * 1000))
    headers = {"X-HB-RateLimit-Requests-Remain": "0", "X-HB-RateLimit-Requests-Expire": window_end}
    v1 = v1_refusal("base-request-exceed-frequency-limit", "Frequency of requests has exceeded")
    v2 = {"code": 1006, "message": "Exceed rate limit", "data": None}
    answers: list[Answer] = [
        (v1, headers, ccxt.RateLimitExceeded),
        (v2, headers, None),  # ccxt returns it: the client must see the code itself
        ({"code": 200, "data": 42}, {"X-HB-RateLimit-Requests-Remain": "7"}, None),
    ]
    client = rest(answers, said, sleeps)
    assert client.uid() == 42
    # To the window's end; then, the header naming a window already over, a short backoff.
    assert sleeps.waits == [1.5, 1.0]
    assert said.lines[0] == (
        "GET /v2/user/uid: HTX's rate limit was reached; retrying in 1.5 s (1 of 3)"
    )


def test_no_headers_means_a_short_bounded_backoff_then_one_clear_line() -> None:
    v2 = {"code": 40403, "message": "Too many requests.", "data": None}
    sleeps = Sleeps()
    client = rest([(v2, {}, None)] * 4, sleeps=sleeps)
    with pytest.raises(RateLimited) as caught:
        client.api_keys(1)
    assert sleeps.waits == [0.5, 1.0, 2.0]
    assert caught.value.message == (
        "GET /v2/user/api-key: HTX's rate limit was reached: Too many requests. (3 retries over "
        "3.5 s did not get through; the limit counts every key of the account)"
    )
    assert "\n" not in caught.value.message


def test_a_window_with_nothing_left_delays_the_next_call() -> None:
    sleeps, said = Sleeps(), Said()
    end = str(NOW + 0.8)  # an epoch in seconds this time
    answers: list[Answer] = [
        ({"code": 200, "data": 1}, {"X-HB-RateLimit-Requests-Remain": "0",
                                    "X-HB-RateLimit-Requests-Expire": end}, None),
        ({"code": 200, "data": 1}, {}, None),
    ]  # fmt: skip
    client = rest(answers, said, sleeps)
    client.uid()
    assert sleeps.waits == []
    client.uid()
    assert sleeps.waits == [0.8]
    assert "no calls left" in said.lines[0]


@pytest.mark.parametrize(
    ("value", "left"),
    [(str(int((NOW + 2) * 1000)), 2.0), (str(NOW + 3), 3.0), ("1500", 1.5), ("2", 2.0),
     ("soon", None), (None, None)],
)  # fmt: skip
def test_the_expire_header_in_any_unit(value: str | None, left: float | None) -> None:
    got = seconds_until(value, NOW)
    assert got == (None if left is None else pytest.approx(left))
