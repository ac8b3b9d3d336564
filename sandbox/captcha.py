"""The slider captcha: a challenge per login attempt, solved by a human-looking mouse drag.

The older HTX UI used Alibaba's "NoCaptcha" slider before the GA step. Here the page script
reports the drag (how far, how long, how many mouse moves) and the server decides; a solved
challenge yields a one-time token that the password step spends. The checks are deliberately
simple: the point is that the flow meets a captcha it must hand to a person, not bot defence.
A `CaptchaBook` keeps no lock of its own: the state calls it under its one lock.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.errors import Refused

CAPTCHA_MODES = ("off", "always", "new-session")
CAPTCHA_TTL_S = 300
MAX_CAPTCHA_TRIES = 5
# A hand needs a while and many small moves to drag a handle across; a script that jumps
# there in one step does not look like one.
MIN_DRAG_MS = 300
MIN_DRAG_MOVES = 5
FULL = 100

CAPTCHA_FAILED = "Verification failed, please try again"
CAPTCHA_EXPIRED = "The verification has expired, please log in again"


@dataclass(frozen=True)
class Drag:
    """The page's summary of one drag of the handle."""

    value: float  # where the handle was let go, 0 (left) to 100 (right end)
    duration_ms: float  # from pressing the handle to letting it go
    moves: int  # mouse (or pointer) move events while the handle was held

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Drag:
        """Read the JSON fields leniently: anything malformed counts as no drag at all."""
        return cls(
            value=_number(body.get("value")),
            duration_ms=_number(body.get("durationMs")),
            moves=int(_number(body.get("moves"))),
        )

    def looks_human(self) -> bool:
        return (
            self.value >= FULL and self.duration_ms >= MIN_DRAG_MS and self.moves >= MIN_DRAG_MOVES
        )


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


@dataclass
class _Challenge:
    device: str
    login: str
    expires: float
    tries: int = 0


@dataclass(frozen=True)
class _Token:
    device: str
    login: str
    expires: float


class CaptchaBook:
    """Open challenges and the tokens solved ones produced, each bound to a device and login."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._challenges: dict[str, _Challenge] = {}
        self._tokens: dict[str, _Token] = {}

    def challenge(self, device: str, login: str) -> str:
        """A new challenge for this browser and login name (the captchaId the page gets)."""
        self._purge()
        challenge_id = secrets.token_urlsafe(18)
        self._challenges[challenge_id] = _Challenge(
            device, login.strip().lower(), self._clock() + CAPTCHA_TTL_S
        )
        return challenge_id

    def solve(self, challenge_id: str, device: str, drag: Drag) -> str:
        """A one-time token for a human-looking drag; Refused otherwise.

        A challenge takes five failed drags, then it is gone and the login starts again
        (field "ticket", as an expired login ticket does).
        """
        entry = self._challenges.get(challenge_id)
        # Another browser's challenge counts as unknown here.
        if entry is None or entry.device != device:
            raise Refused(CAPTCHA_EXPIRED, field="ticket")
        if self._clock() > entry.expires:
            del self._challenges[challenge_id]
            raise Refused(CAPTCHA_EXPIRED, field="ticket")
        if not drag.looks_human():
            entry.tries += 1
            if entry.tries >= MAX_CAPTCHA_TRIES:
                del self._challenges[challenge_id]
            raise Refused(CAPTCHA_FAILED, field="captcha")
        del self._challenges[challenge_id]
        token = secrets.token_urlsafe(24)
        self._tokens[token] = _Token(entry.device, entry.login, self._clock() + CAPTCHA_TTL_S)
        return token

    def spend(self, token: str, device: str, login: str) -> bool:
        """Use a token up; True only for a live token of this device and login.

        Any attempt spends it, even one that then fails the password: otherwise one solved
        slider would buy unlimited password guesses.
        """
        entry = self._tokens.pop(token, None) if token else None
        return (
            entry is not None
            and entry.device == device
            and entry.login == login.strip().lower()
            and self._clock() <= entry.expires
        )

    def _purge(self) -> None:
        now = self._clock()
        for book in (self._challenges, self._tokens):
            for key in [k for k, v in book.items() if now > v.expires]:
                del book[key]
