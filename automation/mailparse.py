"""Reading a verification mail: who sent it and which code it carries.

Pure functions over `email.message.Message`, no network: the IMAP side is in mail.py.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses
from fnmatch import fnmatchcase
from html.parser import HTMLParser

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
    subject = _header_text(msg.get("Subject"))
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


# -- the inbox ---------------------------------------------------------------------------------
