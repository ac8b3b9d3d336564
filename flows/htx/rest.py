"""Signed calls to HTX's REST API through ccxt, the client the exchange's users use.

ccxt signs with the host in `urls['hostnames']`, so pointing it anywhere (the live API, an AWS
host, the sandbox on 127.0.0.1:PORT) means setting the hostname and the API URL templates
together (see shared/htx-reference.md). ccxt is imported on first use: it takes about half a
second and most commands never call the API.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from automation.errors import ConfigError, HtxKeysError, RejectedError, SiteError, VerifyError
from automation.redaction import REDACTOR
from flows.htx.htx_errors import Refusal, refusal_of

LIVE_API_URL = "https://api.huobi.pro"
API_NAMES = ("status", "contract", "spot", "public", "private", "v2Public", "v2Private")
# HTX spells permissions differently in the API: readOnly, trade, withdraw.
TO_HTX = {"read": "readOnly", "trade": "trade", "withdraw": "withdraw"}
FROM_HTX = {v.lower(): k for k, v in TO_HTX.items()}
REMAIN_HEADER = "X-HB-RateLimit-Requests-Remain"
EXPIRE_HEADER = "X-HB-RateLimit-Requests-Expire"


class KeyRefused(VerifyError):
    """The exchange refused a signed call made with the key."""


class IpNotAllowed(KeyRefused):
    """The key is bound to IP addresses and this machine's address is not one of them;
    `address` is "" when HTX did not say which address it saw (its older texts)."""

    def __init__(self, message: str, address: str) -> None:
        super().__init__(message)
        self.address = address


def htx_permissions(permissions: list[str] | tuple[str, ...]) -> str:
    return ",".join(TO_HTX[p] for p in permissions)


def our_permissions(text: str) -> list[str]:
    names = {FROM_HTX.get(part.strip().lower(), part.strip()) for part in text.split(",")}
    return [p for p in ("read", "trade", "withdraw") if p in names] + sorted(
        n for n in names if n not in TO_HTX and n
    )


def api_host(api_url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of an API base URL."""
    parts = urlsplit(api_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ConfigError(f"HTX_API_URL must look like https://api.huobi.pro, not {api_url!r}")
    return parts.scheme, parts.netloc.lower()


def make_client(api_url: str, access_key: str, secret_key: str, timeout_s: float = 20.0) -> Any:
    import ccxt  # slow import; only when a call is made

    REDACTOR.add(secret_key, label="secret key")
    scheme, host = api_host(api_url)
    return ccxt.htx(
        {
            "apiKey": access_key,
            "secret": secret_key,
            "hostname": host,
            "timeout": int(timeout_s * 1000),
            "urls": {
                "hostnames": {"spot": host, "contract": host},
                "api": {name: f"{scheme}://{{hostname}}" for name in API_NAMES},
            },
            "options": {
                "fetchMarkets": {"types": {"spot": True, "linear": False, "inverse": False}},
            },
        }
    )


class ClockRefused(RejectedError):
    """HTX refused the request's Timestamp: this machine's clock is off, nothing is known of
    the key."""


class RateLimited(RejectedError):
    """HTX's rate limit (per account, across all its keys) held after every retry."""


class Progress(Protocol):
    def info(self, message: str) -> None: ...


def error_for(what: str, refusal: Refusal) -> HtxKeysError:
    """Our exception for a refusal HTX answered with (its message scrubbed, one line)."""
    text = REDACTOR.scrub(" ".join(refusal.message.split())) or refusal.code or "no message"
    kind = refusal.kind
    if kind == "ip":
        return IpNotAllowed(f"{what}: HTX refused this machine's address: {text}", refusal.address)
    if kind == "permission":
        return KeyRefused(f"{what}: the key lacks the permission: {text}")
    if kind == "time":
        return ClockRefused(
            f"{what}: HTX refused the request's time: {text}",
            hint="check this machine's clock: HTX accepts 5 minutes either way",
        )
    if kind == "rate":
        return RateLimited(f"{what}: HTX's rate limit was reached: {text}")
    if kind in ("key", "signature", "expired", "auth"):
        return KeyRefused(f"{what}: HTX refused the key: {text}")
    return RejectedError(f"{what}: HTX answered {refusal.code}: {text}")


def _htx_message(exc: BaseException) -> str:
    """The first line of a ccxt error that carried no readable answer, scrubbed."""
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else type(exc).__name__
    return REDACTOR.scrub(first)


def seconds_until(expire: str | None, now: float) -> float | None:
    """`X-HB-RateLimit-Requests-Expire` as seconds from now. HTX does not document the unit:
    an epoch in ms or s, or else a relative duration (ms when large, s when small) [I]."""
    try:
        value = float(expire or "")
    except ValueError:
        return None
    if value >= 1e11:
        return value / 1000 - now
    if value >= 1e9:
        return value - now
    return value / 1000 if value > 100 else value


class HtxRest:
    """The few endpoints the tool needs, each returning the `data` part of the answer.

    Every call is read the same way: an answer with an error (raised by ccxt, or a v2 code other
    than 200 that ccxt hands back as a success) becomes one of our errors by `htx_errors`. A
    rate-limit refusal is retried after the window HTX names in its headers (or a short backoff),
    at most `retries` times, each wait at most `max_wait_s`; an answer that says no calls are left
    makes the next call wait for the window's end first.
    """

    def __init__(
        self,
        api_url: str,
        access_key: str,
        secret_key: str,
        *,
        reporter: Progress | None = None,
        retries: int = 3,
        max_wait_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = make_client(api_url, access_key, secret_key)
        self.reporter = reporter
        self.retries = retries
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self.clock = clock
        self._resume_at: float | None = None

    def _call(self, what: str, method: str, params: dict[str, Any] | None = None) -> Any:
        waited = 0.0
        for attempt in range(self.retries + 1):
            self._pace(what)
            try:
                answer = self._send(what, method, params)
            except RateLimited as exc:
                if attempt == self.retries:
                    raise RateLimited(
                        f"{exc.message} ({self.retries} retries over {waited:.1f} s did not get "
                        "through; the limit counts every key of the account)",
                        hint="wait a few seconds, or stop other programs using the account's keys",
                    ) from None
                wait = self._retry_wait(attempt)
                self._resume_at = None  # this wait is the one for the window's end
                self._say(
                    f"{what}: HTX's rate limit was reached; retrying in {wait:.1f} s "
                    f"({attempt + 1} of {self.retries})"
                )
                self.sleep(wait)
                waited += wait
                continue
            return answer.get("data")
        raise AssertionError("unreachable")  # the loop returns or raises

    def _send(self, what: str, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
        import ccxt

        client = self.client
        # ccxt keeps the last answer; clear it so a failure without one is not read as the old.
        client.last_http_response = None
        client.last_response_headers = None
        try:
            answer = getattr(client, method)(params) if params else getattr(client, method)()
        except ccxt.BaseError as exc:
            refusal = self._answered_refusal()
            if refusal is not None:
                raise error_for(what, refusal) from None
            if isinstance(exc, ccxt.DDoSProtection):  # RateLimitExceeded among them
                raise error_for(what, Refusal("rate", "", _htx_message(exc))) from None
            if isinstance(exc, ccxt.NetworkError):
                raise SiteError(f"{what}: cannot reach the HTX API: {_htx_message(exc)}") from None
            raise RejectedError(f"{what}: HTX answered: {_htx_message(exc)}") from None
        self._note_window()
        if not isinstance(answer, dict):
            raise RejectedError(f"{what}: HTX answered with something other than an object")
        refusal = refusal_of(answer)
        if refusal is not None:
            raise error_for(what, refusal)
        return answer

    def _answered_refusal(self) -> Refusal | None:
        raw = self.client.last_http_response
        try:
            body = json.loads(raw) if isinstance(raw, str | bytes) and raw else None
        except ValueError:
            return None
        return refusal_of(body) if isinstance(body, dict) else None

    def _header(self, name: str) -> str | None:
        headers = self.client.last_response_headers or {}
        value = headers.get(name)
        return str(value) if value is not None else None

    def _note_window(self) -> None:
        """No calls left in this window: the next call waits for its end."""
        if self._header(REMAIN_HEADER) == "0":
            left = seconds_until(self._header(EXPIRE_HEADER), self.clock())
            if left is not None and left > 0:
                self._resume_at = self.clock() + min(left, self.max_wait_s)

    def _pace(self, what: str) -> None:
        if self._resume_at is None:
            return
        left, self._resume_at = self._resume_at - self.clock(), None
        if left > 0:
            self._say(f"{what}: no calls left in HTX's rate-limit window; waiting {left:.1f} s")
            self.sleep(left)

    def _retry_wait(self, attempt: int) -> float:
        left = seconds_until(self._header(EXPIRE_HEADER), self.clock())
        if left is None or left <= 0:
            left = 0.5 * 2**attempt  # no usable header: a short backoff
        return min(max(left, 0.05), self.max_wait_s)

    def _say(self, message: str) -> None:
        if self.reporter is not None:
            self.reporter.info(message)

    # -- the endpoints -----------------------------------------------------------------------

    def uid(self) -> int:
        return int(self._call("GET /v2/user/uid", "spot_private_get_v2_user_uid"))

    def accounts(self) -> list[dict[str, Any]]:
        data = self._call("GET /v1/account/accounts", "spot_private_get_v1_account_accounts")
        return list(data or [])

    def api_keys(self, uid: int, access_key: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"uid": uid}
        if access_key:
            params["accessKey"] = access_key
        data = self._call("GET /v2/user/api-key", "spot_private_get_v2_user_api_key", params)
        return list(data or [])

    def generate_sub_user_key(
        self, otp: str, sub_uid: int, note: str, permissions: list[str], ips: list[str]
    ) -> dict[str, Any]:
        body = {
            "otpToken": otp,
            "subUid": sub_uid,
            "note": note,
            "permission": htx_permissions(permissions),
            "ipAddresses": ",".join(ips),
        }
        what = "POST /v2/sub-user/api-key-generation"
        data = self._call(what, "spot_private_post_v2_sub_user_api_key_generation", body)
        if not isinstance(data, dict) or not data.get("accessKey") or not data.get("secretKey"):
            raise RejectedError(f"{what}: HTX answered without a key pair")
        REDACTOR.add(str(data["secretKey"]), label="secret key")
        return dict(data)

    def delete_sub_user_key(self, sub_uid: int, access_key: str) -> None:
        what = "POST /v2/sub-user/api-key-deletion"
        body = {"subUid": sub_uid, "accessKey": access_key}
        self._call(what, "spot_private_post_v2_sub_user_api_key_deletion", body)
