"""HTX's "new version" rate limit: per account (UID) and endpoint, across all the UID's keys.

Each signed answer says how many calls are left in the current window and when the window ends
(`X-HB-RateLimit-Requests-Remain`, `X-HB-RateLimit-Requests-Expire`, the latter in epoch
milliseconds [I: the unit is not documented; see sandbox/README.md]). A call over the limit is
refused with the live text of its answer shape (v1 or v2). Windows are fixed: the first call
after a window ended opens the next one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

REMAIN_HEADER = "X-HB-RateLimit-Requests-Remain"
EXPIRE_HEADER = "X-HB-RateLimit-Requests-Expire"


@dataclass
class RateLimits:
    """Read on every call, so a test may lower them while a server runs."""

    # The docs give most endpoints "N times/2s"; 100 is the common N [V].
    window_s: float = 2.0
    requests: int = 100
    # The key endpoints (/v2/user/uid, /v2/user/api-key, /v2/sub-user/api-key-*): 20 per 2 s
    # [V JKorf/HTX.Net].
    key_requests: int = 20
    enabled: bool = True

    def __post_init__(self) -> None:
        if not self.window_s > 0 or self.requests < 1 or self.key_requests < 1:
            raise ValueError("rate limits need a positive window and at least 1 request")


@dataclass(frozen=True)
class Allowance:
    allowed: bool
    remain: int
    expire_ms: int

    @property
    def headers(self) -> dict[str, str]:
        return {REMAIN_HEADER: str(self.remain), EXPIRE_HEADER: str(self.expire_ms)}


class RateCounter:
    """Calls counted per (uid, endpoint) in fixed windows on the state's clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._windows: dict[tuple[int, str], tuple[float, int]] = {}

    def take(self, uid: int, endpoint: str, limit: int, window_s: float, now: float) -> Allowance:
        with self._lock:
            start, used = self._windows.get((uid, endpoint), (now, 0))
            if now >= start + window_s:
                start, used = now, 0
            allowed = used < limit
            if allowed:
                used += 1
            self._windows[(uid, endpoint)] = (start, used)
            return Allowance(allowed, limit - used, int((start + window_s) * 1000))
