"""HTX Signature Version 2, checked the way the exchange's API gateway checks it.

The client signs `METHOD\\nhost\\n/path\\n` + a canonical query: for GET every query parameter,
for POST (JSON body) only the four auth parameters. Each name and value is percent-encoded with
upper-case hex, the pairs are sorted by name (ASCII) and joined with `&`. The signature is the
base64 of the raw HMAC-SHA256 digest under the secret key. The server rebuilds that text from
what it received (its own Host header, its own path) and compares in constant time, so a
client that signed for another host, path or parameter set fails with "Verification failure".

Only the checks that need nothing but the request live here; which key, which IPs, which
permissions are the REST layer's business (sandbox/rest.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from sandbox.gateway import (
    LOGIN_REQUIRED,
    MSG_BAD_TIME,
    MSG_MISSING,
    MSG_VERIFICATION,
    SIGNATURE_NOT_VALID,
)

ACCESS_KEY_ID = "AccessKeyId"
SIGNATURE_METHOD = "SignatureMethod"
SIGNATURE_VERSION = "SignatureVersion"
TIMESTAMP = "Timestamp"
SIGNATURE = "Signature"
AUTH_PARAMS = (ACCESS_KEY_ID, SIGNATURE_METHOD, SIGNATURE_VERSION, TIMESTAMP)
METHOD_VALUE = "HmacSHA256"
VERSION_VALUE = "2"
MAX_SKEW_S = 300  # the reference: "within about 1-5 minutes"; the sandbox allows the 5
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"
_TIMESTAMP_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")


class SignatureRefused(Exception):
    """The gateway turns the request away; `code` and `text` go into the v1 error answer."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True)
class SignedParts:
    """What a signed request carries: who signs, when, the signature, and the signed pairs."""

    access_key: str
    timestamp: datetime
    signature: str
    signed: tuple[tuple[str, str], ...]


def encode(text: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters; hex digits upper-case."""
    return quote(text, safe="-_.~", encoding="utf-8")


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((encode(name), encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def pre_sign_text(method: str, host: str, path: str, pairs: Iterable[tuple[str, str]]) -> str:
    return "\n".join([method.upper(), host.lower(), path, canonical_query(pairs)])


def signature_for(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def read_signed_parts(method: str, query: Sequence[tuple[str, str]], now: datetime) -> SignedParts:
    """Pick the auth parameters out of the query and check all that needs no key.

    Order of the checks (the gateway's is not documented): a missing AccessKeyId or Signature,
    then a repeated or unexpected auth parameter, then the Timestamp.
    """
    seen: dict[str, list[str]] = {}
    for name, value in query:
        seen.setdefault(name, []).append(value)
    for required in (ACCESS_KEY_ID, SIGNATURE):
        if not seen.get(required) or not seen[required][0]:
            raise SignatureRefused(LOGIN_REQUIRED, MSG_MISSING.format(required))
    # A repeated auth parameter would let two readings of one request disagree: refuse it.
    if any(len(seen.get(name, [])) > 1 for name in (*AUTH_PARAMS, SIGNATURE)):
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_VERIFICATION)
    if seen.get(SIGNATURE_METHOD) != [METHOD_VALUE] or seen.get(SIGNATURE_VERSION) != [
        VERSION_VALUE
    ]:
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_VERIFICATION)
    stamp = check_timestamp(seen.get(TIMESTAMP, [""])[0], now)
    if method.upper() == "POST":
        # A JSON body is not signed: only the four auth parameters are.
        signed = tuple((name, seen[name][0]) for name in AUTH_PARAMS)
    else:
        signed = tuple((name, value) for name, value in query if name != SIGNATURE)
    return SignedParts(seen[ACCESS_KEY_ID][0], stamp, seen[SIGNATURE][0], signed)


def check_timestamp(value: str, now: datetime) -> datetime:
    """`YYYY-MM-DDThh:mm:ss` in UTC, at most MAX_SKEW_S away from the server's clock."""
    if not _TIMESTAMP_SHAPE.match(value):
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_BAD_TIME)
    try:
        stamp = datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:  # e.g. month 13
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_BAD_TIME) from exc
    if abs((now - stamp).total_seconds()) > MAX_SKEW_S:
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_BAD_TIME)
    return stamp


def check_signature(secret: str, method: str, host: str, path: str, parts: SignedParts) -> None:
    """Recompute with the Host the request came with; compare without leaking timing."""
    expected = signature_for(secret, pre_sign_text(method, host, path, parts.signed))
    # compare_digest on str wants ASCII only; bytes take anything the client sent.
    if not hmac.compare_digest(expected.encode("ascii"), parts.signature.encode("utf-8")):
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_VERIFICATION)
