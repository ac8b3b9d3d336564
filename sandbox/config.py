"""How a replica is set up: accounts, where its mail goes, faults and login guards."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.accounts import Account
from sandbox.captcha import CAPTCHA_MODES
from sandbox.faults import Faults
from sandbox.login_state import SESSION_TTL_S, TOTP_STEP_S, check_totp_step
from sandbox.mailer import MailTarget
from sandbox.markup import MARKUPS
from sandbox.ratelimit import RateLimits


@dataclass
class SandboxConfig:
    accounts: list[Account]
    mail_target: MailTarget | None = None
    mail_from: str = "HTX <noreply@htx.com>"
    faults: Faults = field(default_factory=Faults)
    # Login guards, all off by default (README "Login guards"). The slider captcha before the
    # password step: "off", "always", or "new-session" (a browser whose HB-DEVICE cookie has
    # not completed a login for that account); an account's `captcha = true` forces it.
    captcha: str = "off"
    # After the GA step, a browser the account has not seen must confirm an emailed code.
    new_device_check: bool = False
    # How long a login lasts; an older session is treated as logged out.
    session_ttl_s: float = SESSION_TTL_S
    # The Google Authenticator time step for every GA check (login, Security Authentication,
    # sub-user REST). 30 s as on the live site; a test convenience only: tests run a shorter
    # one so the tool waits seconds, not half a minute, for each fresh code.
    totp_step_s: int = TOTP_STEP_S
    # HTX's per-UID rate limits on the signed API (README "Rate limits"); read on every call,
    # so a test can lower them on a running server (`srv.config.rate_limits.key_requests = 2`).
    rate_limits: RateLimits = field(default_factory=RateLimits)
    # "plain": labels tied to inputs, real buttons, readable class names. "obscure": the same
    # pages as a framework's build might serve them (sandbox/markup.py).
    markup: str = "plain"

    def __post_init__(self) -> None:
        check_totp_step(self.totp_step_s)
        if self.captcha not in CAPTCHA_MODES:
            raise ValueError(
                f"captcha must be one of {', '.join(CAPTCHA_MODES)}, not {self.captcha!r}"
            )
        if self.markup not in MARKUPS:
            raise ValueError(f"markup must be one of {', '.join(MARKUPS)}, not {self.markup!r}")
        if not self.session_ttl_s > 0:
            raise ValueError("session_ttl_s must be a positive number of seconds")
