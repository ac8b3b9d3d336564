"""Google Authenticator codes for tests that drive the sandbox's pages by hand."""

from __future__ import annotations

import time

import pyotp


class Authenticator:
    """Hands out each GA time step once, as the site demands, with time left to submit it.

    The site accepts the current and the previous step; handing out the previous one first
    saves a 30 s wait without ever reusing a step.
    """

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        while True:
            now = time.time()
            step, left = int(now // 30), 30 - now % 30
            if left > 5:
                for candidate in (step - 1, step):
                    if candidate > self.last_step:
                        self.last_step = candidate
                        return self.totp.at(candidate * 30)
            time.sleep(0.25)
