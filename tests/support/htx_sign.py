"""An HTX Signature V2 signer for tests, written from shared/htx-reference.md alone.

It deliberately shares no code with sandbox/signing.py (which it checks): its own percent-
encoding, its own sorting, its own time format. If both were wrong the same way the ccxt
end-to-end test would still catch it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

# RFC 3986 unreserved characters stay as they are; every other byte becomes %XX.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def percent_encode(text: str) -> str:
    out: list[str] = []
    for byte in text.encode("utf-8"):
        out.append(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}")
    return "".join(out)


def htx_timestamp(when: datetime | float | None = None) -> str:
    """UTC `YYYY-MM-DDThh:mm:ss`; `when` is a datetime, a Unix time, or None for now."""
    if when is None:
        moment = datetime.now(UTC)
    elif isinstance(when, datetime):
        moment = when.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(when, UTC)
    m = moment
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"


def pre_sign(method: str, host: str, path: str, params: Mapping[str, object]) -> str:
    pairs = [(percent_encode(str(k)), percent_encode(str(v))) for k, v in params.items()]
    pairs.sort(key=lambda kv: kv[0].encode("ascii"))  # by name, ASCII order
    query = "&".join(k + "=" + v for k, v in pairs)
    return method.upper() + "\n" + host.lower() + "\n" + path + "\n" + query


def sign_request(
    method: str,
    host: str,
    path: str,
    params: Mapping[str, object] | None,
    access_key: str,
    secret: str,
    timestamp: datetime | float | str | None = None,
) -> dict[str, str]:
    """The query parameters of a signed request, `Signature` included.

    GET: `params` are query parameters and are signed with the auth parameters. POST: `params`
    are the JSON body, which is not signed; only the four auth parameters are returned.
    """
    stamp = timestamp if isinstance(timestamp, str) else htx_timestamp(timestamp)
    query: dict[str, str] = {
        "AccessKeyId": access_key,
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": stamp,
    }
    if method.upper() != "POST":
        for name, value in (params or {}).items():
            query[str(name)] = str(value)
    text = pre_sign(method, host, path, query)
    mac = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256)
    query["Signature"] = base64.b64encode(mac.digest()).decode("ascii")
    return query


def query_string(params: Mapping[str, str]) -> str:
    """The signed parameters as a URL query (the Signature percent-encoded like the rest)."""
    return "&".join(percent_encode(k) + "=" + percent_encode(v) for k, v in params.items())
