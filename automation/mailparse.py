"""Reading a verification mail: who sent it, whom it is for, and which code it carries.

Pure functions over `email.message.Message`, no network: the IMAP side is in mail.py.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from fnmatch import fnmatchcase
from html.parser import HTMLParser
from typing import Literal

# A six-digit number that stands alone: not part of a longer digit run, not glued to other digits
# by a separator (2024-123456, 123456.78, 1,234,567) and not after "+" (phone numbers).
# The default pattern: a keyword, at most 100 characters, then the first such number (the rules
# are spelled out in extract_code's docstring).
_LONE = r"(?<!\d)(?<!\d[-.,/])(?<!\+)(\d{6})(?!\d)(?![-.,/]\d)"
DEFAULT_CODE_PATTERN = (
    r"(?i)(?:\b(?:verification|verify|codes?|otp|passcode)\b|验证码|驗證碼|校验码|确认码|確認碼)"
    r"[\s\S]{0,100}?" + _LONE
)
_LONE_RE = re.compile(_LONE)


class _HtmlText(HTMLParser):
    """HTML -> text: drops scripts/styles/head, turns block elements into line breaks."""

    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template"})
    _BLOCK = re.compile(
        r"br|p|div|t[rdh]|li|[uod]l|table|t(?:body|head|foot)|h[1-6r]|section|article"
        r"|header|footer|center|blockquote|pre|d[dt]"
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # entities arrive unescaped in handle_data
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif self._BLOCK.fullmatch(tag):
            self.parts.append("\n")  # keeps "<td>Code</td><td>482913</td>" from gluing digits

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif self._BLOCK.fullmatch(tag):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    text = re.sub(r"[^\S\n]+", " ", "".join(parser.parts))
    return re.sub(r"\s*\n\s*", "\n", text).strip()


def _part_text(part: Message) -> str | None:
    payload = part.get_payload(decode=True)  # undoes quoted-printable and base64
    if not isinstance(payload, bytes):
        return None
    charset = (part.get_content_charset() or "utf-8").lower()
    if charset in ("gb2312", "gbk"):
        charset = "gb18030"  # mail labelled GB2312 is routinely GBK; GB18030 covers both
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _header_text(value: object) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):
        return str(value)


def _texts(msg: Message) -> tuple[list[str], list[str], str]:
    """The text/plain parts, the HTML parts as text, and the subject."""
    plain: list[str] = []
    html: list[str] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind in ("text/plain", "text/html"):
            text = _part_text(part)
            if text:
                (plain if kind == "text/plain" else html).append(
                    text if kind == "text/plain" else html_to_text(text)
                )
    return plain, html, _header_text(msg.get("Subject"))


@functools.lru_cache(maxsize=16)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def extract_code(msg: Message, pattern: str = DEFAULT_CODE_PATTERN) -> str | None:
    """The verification code in a mail, or None.

    Where: the text/plain parts first, then the HTML parts turned into text (scripts, styles and
    tags dropped, entities unescaped), then the subject. Transfer encodings (quoted-printable,
    base64) and charsets are decoded. The first match's first group wins.

    DEFAULT_CODE_PATTERN: a keyword ("verification", "verify", "code(s)", "OTP", "passcode" as
    whole words, any case, or 验证码 / 驗證碼 / 校验码 / 确认码 / 確認碼), then at most 100
    characters of anything (newlines included), then the first *standalone* six-digit number:
    no digit directly before or after it (order ids and phone numbers are longer runs), not
    joined to other digits by - . , / (dates, amounts, "2024-123456") and not after "+" (phone
    numbers). Years have four digits and never match. With several codes after the keyword the
    first one wins.

    Fallback, for the default pattern only (a custom pattern says exactly what a code looks
    like): when no keyword match exists, a standalone six-digit number in the body or subject,
    but only if exactly one distinct such number appears.
    """
    plain, html, subject = _texts(msg)
    regex = _compiled(pattern)
    for text in (*plain, *html, subject):
        for match in regex.finditer(text):
            if match.group(1):
                return match.group(1)
    if pattern == DEFAULT_CODE_PATTERN:
        lone: set[str] = set(_LONE_RE.findall("\n".join([*(plain or html), subject])))
        if len(lone) == 1:
            return lone.pop()
    return None


def sender_of(msg: Message) -> str | None:
    """The lower-cased address in From, or None when there is not exactly one address.

    A From that parses to several addresses ("noreply@htx.com <x@evil.test>") is refused rather
    than guessed at: guessing is how a lookalike gets through.
    """
    raw = msg.get_all("From") or []
    addresses = {addr.lower() for _, addr in getaddresses([str(v) for v in raw]) if addr}
    if len(addresses) != 1:
        return None
    address = addresses.pop()
    return address if address.count("@") == 1 else None


def sender_matches(address: str | None, patterns: Iterable[str]) -> bool:
    if not address or address.count("@") != 1:
        return False  # "*" would otherwise match an "@" inside a crafted address
    address = address.lower()
    return any(fnmatchcase(address, p.strip().lower()) for p in patterns)


# -- whom a mail is for ------------------------------------------------------------------------
# Several accounts may read one mailbox (aliases, a team inbox), and each must take only its
# own codes. The evidence, strongest first:
# * To / Cc: whom HTX addressed. Naming other addresses only, the mail is someone else's.
# * X-Original-To: the envelope recipient before an alias or forward rewrote it (Postfix).
# * Delivered-To / Envelope-To: where it was delivered, which in a shared mailbox is often the
#   mailbox's own address, and a forwarding hop adds one per hop: they can confirm, not refuse.
# * The body: HTX shows an account's address masked ("ab***@example.com"); a mask that cannot
#   be our address means another account's mail.
ADDRESSED = ("To", "Cc")
ORIGINAL = ("X-Original-To",)
DELIVERED = ("Delivered-To", "Envelope-To")
RECIPIENT_HEADERS = (*ADDRESSED, *ORIGINAL, *DELIVERED)

Recipient = Literal["ours", "theirs", "unknown"]

# A masked address: at least one "*" in it, and the "@" with a domain (which may be masked too).
_MASKED = re.compile(r"(?<![\w.+%*-])[\w.+%*-]*\*[\w.+%*-]*@[\w*-]+(?:\.[\w*-]+)+")


def is_address(text: str | None) -> bool:
    """An email address (one "@" with something on both sides), not a phone number."""
    if not text:
        return False
    local, at, domain = text.strip().partition("@")
    return (
        bool(at and local and domain)
        and "@" not in domain
        and not any(c.isspace() for c in text.strip())
    )


def recipients(msg: Message, headers: Iterable[str] = RECIPIENT_HEADERS) -> set[str]:
    """The lower-cased addresses these headers name."""
    raw = [str(v) for name in headers for v in msg.get_all(name) or []]
    return {addr.lower() for _, addr in getaddresses(raw) if is_address(addr)}


def masked_addresses(msg: Message) -> set[str]:
    """The masked addresses ("ab***@example.com") in the body and subject."""
    plain, html, subject = _texts(msg)
    return {m.lower() for text in (*plain, *html, subject) for m in _MASKED.findall(text)}


def mask_fits(mask: str, address: str) -> bool:
    """Whether `address` could be the one masked: each run of "*" hides any characters."""
    pieces = [re.escape(p) for p in re.split(r"\*+", mask.lower())]
    return re.fullmatch(".*".join(pieces), address.lower()) is not None


def addressed_to(msg: Message, me: str | None, others: Collection[str] = ()) -> Recipient:
    """Whether a mail is for the account with address `me` ("ours"), for another account
    ("theirs"), or cannot be told ("unknown": no header names anyone, no mask decides).

    `me` None: the account's address is not known (it logs in by phone), so only a mail for
    one of `others` (the other accounts known to read this mailbox) is told apart.
    """
    mine = me.strip().lower() if me and is_address(me) else None
    theirs = {o.strip().lower() for o in others if is_address(o)} - {mine}
    for headers in (ADDRESSED, ORIGINAL):
        named = recipients(msg, headers)
        if named:
            if mine is not None:
                return "ours" if mine in named else "theirs"
            return "theirs" if named <= theirs else "unknown"
    delivered = recipients(msg, DELIVERED)
    if mine is not None and mine in delivered and not delivered & theirs:
        return "ours"
    masks = masked_addresses(msg)
    if masks:
        fits_me = mine is not None and any(mask_fits(m, mine) for m in masks)
        fits_others = any(mask_fits(m, o) for m in masks for o in theirs)
        if mine is not None and not fits_me:
            return "theirs"
        if fits_me and not fits_others:
            return "ours"
    return "unknown"


def is_ours(verdict: Recipient, others: Collection[str]) -> bool:
    """A mail we can take: for us, or for nobody we can tell while no other account is known
    to read this mailbox (a mail sent blind, without To, to an account alone on its mailbox)."""
    return verdict == "ours" or (verdict == "unknown" and not others)
