"""Signed calls to HTX's REST API through ccxt, the client the exchange's users use.

ccxt signs with the host in `urls['hostnames']`, so pointing it anywhere (the live API, an AWS
host, the sandbox on 127.0.0.1:PORT) means setting the hostname and the API URL templates
together (see shared/htx-reference.md). ccxt is imported on first use: it takes about half a
second and most commands never call the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from automation.errors import ConfigError, RejectedError, SiteError, VerifyError
from automation.redaction import REDACTOR

LIVE_API_URL = "https://api.huobi.pro"
API_NAMES = ("status", "contract", "spot", "public", "private", "v2Public", "v2Private")
# HTX spells permissions differently in the API: readOnly, trade, withdraw.
TO_HTX = {"read": "readOnly", "trade": "trade", "withdraw": "withdraw"}
FROM_HTX = {v.lower(): k for k, v in TO_HTX.items()}
IP_REFUSED = re.compile(r"Incorrect IP address:?\s*([0-9A-Fa-f:.]+)")


class KeyRefused(VerifyError):
    """The exchange refused a signed call made with the key."""


class IpNotAllowed(KeyRefused):
    """The key is bound to IP addresses and this machine's address is not one of them."""

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


@contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """ccxt's exceptions as ours: one line, scrubbed, with the right exit status."""
    import ccxt

    try:
        yield
    except ccxt.PermissionDenied as exc:  # a subclass of AuthenticationError: first
        raise KeyRefused(f"{what}: the key lacks the permission: {_htx_message(exc)}") from None
    except ccxt.AuthenticationError as exc:
        text = REDACTOR.scrub(_htx_message(exc))
        ip = IP_REFUSED.search(text)
        if ip:
            raise IpNotAllowed(f"{what}: HTX refused this address: {text}", ip.group(1)) from None
        raise KeyRefused(f"{what}: HTX refused the key: {text}") from None
    except ccxt.NetworkError as exc:
        raise SiteError(f"{what}: cannot reach the HTX API: {_htx_message(exc)}") from None
    except ccxt.BaseError as exc:
        raise RejectedError(f"{what}: HTX answered: {_htx_message(exc)}") from None


def _htx_message(exc: BaseException) -> str:
    """The exchange's own words from a ccxt error (it appends the whole JSON body)."""
    text = str(exc)
    for key in ('"err-msg":', '"message":'):
        at = text.find(key)
        if at != -1:
            rest = text[at + len(key) :].lstrip()
            if rest.startswith('"'):
                end = rest.find('"', 1)
                if end != -1:
                    return REDACTOR.scrub(rest[1:end])
    first = text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__
    return REDACTOR.scrub(first)


def v2_data(what: str, answer: dict[str, Any]) -> Any:
    """The data of a v2 answer; ccxt raises only for some codes and returns the others."""
    code = answer.get("code")
    if code not in (200, "200"):
        message = REDACTOR.scrub(str(answer.get("message") or answer.get("err-msg") or answer))
        raise RejectedError(f"{what}: HTX answered {code}: {message}")
    return answer.get("data")


class HtxRest:
    """The few endpoints the tool needs, each returning the `data` part of the answer."""

    def __init__(self, api_url: str, access_key: str, secret_key: str) -> None:
        self.client = make_client(api_url, access_key, secret_key)

    def uid(self) -> int:
        with mapped_errors("GET /v2/user/uid"):
            answer = self.client.spot_private_get_v2_user_uid()
        return int(v2_data("GET /v2/user/uid", answer))

    def accounts(self) -> list[dict[str, Any]]:
        with mapped_errors("GET /v1/account/accounts"):
            return list(self.client.spot_private_get_v1_account_accounts()["data"])

    def api_keys(self, uid: int, access_key: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"uid": uid}
        if access_key:
            params["accessKey"] = access_key
        with mapped_errors("GET /v2/user/api-key"):
            answer = self.client.spot_private_get_v2_user_api_key(params)
        return list(v2_data("GET /v2/user/api-key", answer) or [])

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
        with mapped_errors(what):
            answer = self.client.spot_private_post_v2_sub_user_api_key_generation(body)
        data = v2_data(what, answer)
        if not isinstance(data, dict) or not data.get("accessKey") or not data.get("secretKey"):
            raise RejectedError(f"{what}: HTX answered without a key pair")
        REDACTOR.add(str(data["secretKey"]), label="secret key")
        return dict(data)

    def delete_sub_user_key(self, sub_uid: int, access_key: str) -> None:
        what = "POST /v2/sub-user/api-key-deletion"
        with mapped_errors(what):
            answer = self.client.spot_private_post_v2_sub_user_api_key_deletion(
                {"subUid": sub_uid, "accessKey": access_key}
            )
        v2_data(what, answer)
