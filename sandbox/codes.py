"""One-time verification codes sent by email or SMS: the same rules for both channels.

A code is six digits, valid 10 minutes; only the newest one sent for an (account, purpose)
counts; Send is refused for 60 s after the last one while that code is unused (once a code
has done its work, the next action may send a new one at once); five wrong guesses withdraw
the code.
A `CodeBook` keeps no lock of its own: the state calls it under its one lock.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.errors import Refused

CODE_TTL_S = 600
RESEND_AFTER_S = 60
MAX_WRONG_CODES = 5
RESEND_TOO_SOON = "Please try again in {} seconds"


@dataclass(frozen=True)
class CodeTexts:
    """What a channel's refusals say, and which form field they name."""

    field: str
    get_first: str
    wrong: str
    expired: str


EMAIL_TEXTS = CodeTexts(
    field="emailCode",
    get_first="Please get the email verification code first",
    wrong="Incorrect email verification code",
    expired="The email verification code has expired",
)
SMS_TEXTS = CodeTexts(
    field="smsCode",
    get_first="Please get the SMS verification code first",
    wrong="Incorrect SMS verification code",
    expired="The SMS verification code has expired",
)


@dataclass
class _Code:
    code: str
    issued_at: float
    wrong: int = 0


class CodeBook:
    """The codes of one channel, by (lower-case account email, purpose)."""

    def __init__(self, texts: CodeTexts, clock: Callable[[], float]) -> None:
        self.texts = texts
        self._clock = clock
        self._codes: dict[tuple[str, str], _Code] = {}
        self._last_send: dict[tuple[str, str], float] = {}

    def issue(self, email: str, purpose: str, *, again: bool = False) -> str:
        """A new code that replaces any older one; Refused within 60 s of the last Send
        unless the site sends `again` by itself."""
        key = (email.lower(), purpose)
        wait = self.resend_in(email, purpose)
        if wait > 0 and not again:
            raise Refused(RESEND_TOO_SOON.format(wait), field=self.texts.field)
        code = f"{secrets.randbelow(10**6):06d}"
        self._codes[key] = _Code(code, self._clock())
        self._last_send[key] = self._clock()
        return code

    def withdraw(self, email: str, purpose: str, code: str) -> None:
        """Undo a Send that never reached the user, so they may press Send again at once."""
        key = (email.lower(), purpose)
        entry = self._codes.get(key)
        if entry is not None and entry.code == code:
            del self._codes[key]
            self._last_send.pop(key, None)

    def resend_in(self, email: str, purpose: str) -> int:
        last = self._last_send.get((email.lower(), purpose))
        if last is None:
            return 0
        return max(0, math.ceil(last + RESEND_AFTER_S - self._clock()))

    def check(self, email: str, purpose: str, code: str) -> None:
        """Refused unless `code` is the newest live code; a wrong guess counts against it."""
        key = (email.lower(), purpose)
        entry = self._codes.get(key)
        if entry is None:
            raise Refused(self.texts.get_first, field=self.texts.field)
        if self._clock() - entry.issued_at > CODE_TTL_S:
            raise Refused(self.texts.expired, field=self.texts.field)
        if not hmac.compare_digest(entry.code.encode(), str(code).strip().encode()):
            entry.wrong += 1
            if entry.wrong >= MAX_WRONG_CODES:
                # Plain anti-brute-force: a million codes, five guesses, then Send again.
                del self._codes[key]
            raise Refused(self.texts.wrong, field=self.texts.field)

    def use_up(self, email: str, purpose: str) -> None:
        """A code is spent only once the whole request it authorised has succeeded; the
        Resend countdown guarded it and ends with it."""
        self._codes.pop((email.lower(), purpose), None)
        self._last_send.pop((email.lower(), purpose), None)
