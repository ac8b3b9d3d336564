"""Google Authenticator codes for tests that drive the sandbox's pages by hand, and the short
GA time step most end-to-end tests run the sandbox (and the tool) with."""

from __future__ import annotations

import time

import pyotp

# The sandbox's GA step in most end-to-end tests (SandboxConfig.totp_step_s, and the tool's
# HTX_TOTP_PERIOD to match). Each step's code is good once, so a run's second code waits for
# the next step: up to 30 s at the live site's step, up to this here. Short enough that those
# waits stop dominating the suite; long enough that a code still reaches the site in time on a
# loaded 2-core machine: the tool hands out a code with a tenth of a step left and the site
# also takes the previous step, so a code has at least 1.1 steps (5.5 s) to arrive, against
# 0.4 s typical and 1.3 s at worst measured from hand-out to check with two busy workers.
SHORT_TOTP_STEP_S = 5
# A code handed out here must still be good this long: the tests fill in and confirm a dialog
# (sometimes twice) between taking a code and submitting it.
SUBMIT_MARGIN_S = 4.0


class Authenticator:
    """Hands out each GA time step once, as the site demands, with time left to submit it.

    The site accepts the current and the previous step; handing out the previous one first
    saves waiting for the next step without ever reusing one.
    """

    def __init__(self, secret: str, step_s: int = 30) -> None:
        self.step_s = step_s
        self.totp = pyotp.TOTP(secret, interval=step_s)
        self.last_step = -1

    def code(self) -> str:
        while True:
            now = time.time()
            step, left = int(now // self.step_s), self.step_s - now % self.step_s
            # The previous step's code is good for what is left of this step, the current
            # one's for a step more.
            for candidate, good_for in ((step - 1, left), (step, left + self.step_s)):
                if candidate > self.last_step and good_for > SUBMIT_MARGIN_S:
                    self.last_step = candidate
                    return self.totp.at(candidate * self.step_s)
            time.sleep(0.1)
