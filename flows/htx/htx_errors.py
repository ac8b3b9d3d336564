"""Reading HTX's refusals: by `err-code` (or a v2 `code`) first, then by the message's words.

One `err-code`, `api-signature-not-valid`, covers a wrong secret, an unknown key, a bad clock and
a refused IP address: only the message tells them apart, and HTX has worded it three ways over
the years (English with the Chinese in brackets, "Signature not valid: " and Chinese only, and
all Chinese), so each kind is recognised by its English or its Chinese words, whichever is
there. Sources: sandbox/README.md ("Gateway refusals", "Older wordings").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["ip", "permission", "time", "expired", "key", "signature", "rate", "auth", "other"]

AUTH_CODES = frozenset(
    {"api-signature-not-valid", "api-signature-check-failed", "login-required", "403", "1003"}
)
RATE_CODES = frozenset(
    {"base-request-exceed-frequency-limit", "rate-too-many-requests", "1006", "40403", "429"}
)
IP_CODES = frozenset({"2000"})  # v2 "IP address not allowed" [JKorf/HTX.Net]

# First match wins: "ip" before "key", since an IP text may mention the key as well.
WORDS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    ("ip", ("incorrect ip address", "ip地址错误", "ip address not allowed")),
    ("rate", ("frequency of requests", "rate limit", "too many request", "request limit")),
    ("permission", ("no permission", "没有权限")),
    ("time", ("submission time", "提交时间")),
    ("expired", ("expired", "过期")),
    ("key", ("incorrect access key", "access key错误", "invalid signature")),
    ("signature", ("verification failure", "校验失败")),
)
# The address HTX saw follows the IP words after a colon: "...[IP地址错误]:104.128.67.45".
_ADDRESS = re.compile(r"(?:address|错误)\]?\s*[:：]\s*([0-9A-Fa-f.:]+)")


@dataclass(frozen=True)
class Refusal:
    kind: Kind
    code: str  # the err-code or v2 code as text; "" when the answer had none
    message: str
    address: str = ""  # for "ip": this machine's address as HTX saw it, when it said


def words_kind(message: str) -> Kind | None:
    text = message.lower()
    for kind, words in WORDS:
        if any(word in text for word in words):
            return kind
    return None


def classify(code: str, message: str) -> Kind:
    """The kind of a refusal from its code and message."""
    code = code.strip().lower()
    if code in RATE_CODES:
        return "rate"
    if code in IP_CODES:
        return "ip"
    by_words = words_kind(message)
    if by_words is not None:
        return by_words
    return "auth" if code in AUTH_CODES else "other"


def refused_address(message: str) -> str:
    match = _ADDRESS.search(message)
    if not match:
        return ""
    try:
        return str(ipaddress.ip_address(match.group(1).rstrip(".:")))
    except ValueError:
        return ""


def refusal_of(answer: Mapping[str, Any]) -> Refusal | None:
    """The refusal an answer holds (v1 `status: error`, or a v2 `code` other than 200), or
    None for a success. Both spellings of the v1 fields are read (`err-code`, `err_code`)."""
    if answer.get("status") == "error" or "err-code" in answer or "err_code" in answer:
        code = str(answer.get("err-code", answer.get("err_code", "")) or "")
        message = str(answer.get("err-msg", answer.get("err_msg", "")) or "")
    elif "code" in answer and str(answer.get("code")) not in ("200", "0"):
        code = str(answer.get("code"))
        message = str(answer.get("message") or answer.get("msg") or "")
    else:
        return None
    kind = classify(code, message)
    return Refusal(kind, code, message, refused_address(message) if kind == "ip" else "")
