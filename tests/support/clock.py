"""The one fake wall clock of the sandbox unit tests: it stands still until a test moves it, so
code lifetimes, resend countdowns, sessions and GA time steps are tested without waiting."""

from __future__ import annotations

# 10 s into a 30 s GA time step (and 0 s into a 5 s one): a code of "now" has 20 s to go.
T0 = 1_700_000_010.0


class Clock:
    """Pass it as the sandbox state's `clock`; `advance` moves time on."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
