"""What the site answered the page's own calls, when it refused them by HTTP status.

A page shows every failure the same way (an alert, a toast): "System busy" after a server
error, "Frequency ... exceeded" after a rate limit, or nothing at all when the session ended
and the page went to the login form. The status says which it was, and the flows act on the
class, not on the wording: a server error (5xx) or a rate limit (429) on a call that makes
nothing is worth trying again, a 401 means logging in again, and a server error on the call
that makes a key means the key may exist.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SESSION_ENDED = 401
RATE_LIMITED = 429


@dataclass(frozen=True)
class Answer:
    at: float  # time.monotonic() when the answer came
    status: int
    method: str
    path: str

    @property
    def server_error(self) -> bool:
        return self.status >= 500

    def describe(self) -> str:
        return f"HTTP {self.status} to {self.method} {self.path}"


class HttpWatch:
    """The error answers (status 401, 429, 5xx) of the site's origin to a page, newest last."""

    def __init__(self, page: Any, base_url: str, clock: Callable[[], float] = time.monotonic):
        parts = urlsplit(base_url)
        self.origin = (parts.scheme, parts.netloc)
        self.clock = clock
        self.answers: list[Answer] = []
        page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        status = int(response.status)
        if status not in (SESSION_ENDED, RATE_LIMITED) and status < 500:
            return
        url = urlsplit(response.url)
        if (url.scheme, url.netloc) != self.origin:
            return
        method = str(getattr(response.request, "method", "GET"))
        self.answers.append(Answer(self.clock(), status, method, url.path))

    def mark(self) -> float:
        """A moment to ask `since` about: take it just before the action."""
        return self.clock()

    def since(self, moment: float) -> list[Answer]:
        return [a for a in self.answers if a.at >= moment]

    def server_error(self, moment: float) -> Answer | None:
        return next((a for a in reversed(self.since(moment)) if a.server_error), None)

    def status_since(self, moment: float, status: int) -> Answer | None:
        return next((a for a in reversed(self.since(moment)) if a.status == status), None)
