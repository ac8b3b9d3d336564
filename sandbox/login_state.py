"""The login half of the sandbox's memory: accounts, GA codes, login steps, devices, sessions.

`SandboxState` (sandbox/state.py) builds on this class; tests and other modules use them
through `SandboxState`. A login goes: [slider captcha] → password → GA code → [new-device
email code] → session. The server's settings for the optional steps (captcha mode, new-device
check, session lifetime) come with each call from the app's `SandboxConfig`, so one state can
be shared with an app built later (as the tests do) without being told twice.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp

from sandbox.accounts import Account
from sandbox.captcha import CaptchaBook, Drag
from sandbox.codes import EMAIL_TEXTS, SMS_TEXTS, CodeBook
from sandbox.errors import Refused

LOGIN_TICKET_TTL_S = 300
# Waiting for the new-device mail takes longer than typing a GA code: the ticket gets as long
# as the email code it waits for.
DEVICE_STEP_TTL_S = 600
MAX_LOGIN_GA_ATTEMPTS = 5
SESSION_TTL_S = 24 * 3600
# The GA time step, as on the live site and in every authenticator app. Tests may run the
# sandbox with a shorter one (SandboxConfig.totp_step_s) to wait less for fresh codes.
TOTP_STEP_S = 30
LOGIN_PURPOSE = "login"

WRONG_PASSWORD = "Incorrect account or password"
WRONG_GA = "Incorrect Google Authenticator code"
LOGIN_EXPIRED = "The verification has expired, please log in again"


def check_totp_step(seconds: int) -> int:
    """A GA time step the sandbox can run with: whole seconds, at least one."""
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1:
        raise ValueError(f"the TOTP step must be a whole number of seconds >= 1, not {seconds!r}")
    return seconds


class SeedTotp(pyotp.TOTP):
    """Exchanges hand out 16-character (80-bit) GA seeds; pyotp >= 2.10 refuses those."""

    def byte_secret(self) -> bytes:
        secret = self.secret.replace(" ", "").upper()
        return base64.b32decode(secret + "=" * (-len(secret) % 8))


@dataclass
class _Ticket:
    email: str
    expires: float
    attempts: int = 0
    # The browser (HB-DEVICE cookie) that passed the password step: only it may go on.
    device: str = ""
    # "ga", then "device" while a new device waits for its email code.
    stage: str = "ga"


@dataclass
class _Session:
    email: str
    expires: float


@dataclass(frozen=True)
class LoginStart:
    """The password step's answer: a ticket for the GA step, or a captcha to solve first."""

    ticket: str | None = None
    captcha_id: str | None = None


@dataclass(frozen=True)
class LoginGa:
    """The GA step's answer: a session token, or None while the new-device step is due."""

    session: str | None
    account: Account


class LoginState:
    def __init__(
        self,
        accounts: Iterable[Account],
        clock: Callable[[], float] = time.time,
        *,
        totp_step_s: int = TOTP_STEP_S,
    ):
        # Fixed for the state's life: the used-step record below counts in these steps.
        self._totp_step_s = check_totp_step(totp_step_s)
        self._accounts = {a.email.lower(): a for a in accounts}
        self._clock = clock
        self._lock = threading.RLock()
        self._tickets: dict[str, _Ticket] = {}
        self._sessions: dict[str, _Session] = {}
        self._last_ga_step: dict[str, int] = {}
        # Accounts whose next GA check finds its current step taken (use_ga_code_elsewhere).
        self._ga_used_elsewhere: set[str] = set()
        # Device ids (HB-DEVICE) that have completed a login, per account (lower-case email).
        self._devices: dict[str, set[str]] = {}
        self._captcha = CaptchaBook(clock)
        self._email_codes = CodeBook(EMAIL_TEXTS, clock)
        self._sms_codes = CodeBook(SMS_TEXTS, clock)

    # -- time and accounts -------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self._clock()), UTC)

    @property
    def totp_step_s(self) -> int:
        """The GA time step in seconds: each step's code is accepted once (30 on the site)."""
        return self._totp_step_s

    @property
    def lock(self) -> threading.RLock:
        """The one lock; modules that extend the state (sub-user keys) take it too."""
        return self._lock

    @property
    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def account(self, email: str) -> Account | None:
        return self._accounts.get(email.strip().lower())

    # -- password step and captcha -----------------------------------------------------------

    def captcha_required(self, login: str, device: str, mode: str) -> bool:
        """Whether the password step must first be preceded by a solved slider."""
        account = self.account(login)
        if mode == "always" or (account is not None and account.captcha):
            return True
        if mode == "new-session":
            # An unknown login name is treated like a new browser: no hint that it is unknown.
            return account is None or not self.knows_device(account.email, device)
        return False

    def start_login(
        self,
        login: str,
        password: str,
        *,
        device: str = "",
        captcha: str = "off",
        captcha_token: str = "",
    ) -> LoginStart:
        """The password step with the captcha in front of it (when the settings ask for one).

        The captcha is checked before the password, so an unsolved captcha reveals nothing
        about the password; a token is spent by any attempt, right or wrong.
        """
        with self._lock:
            if self.captcha_required(login, device, captcha) and not self._captcha.spend(
                captcha_token, device, login
            ):
                return LoginStart(captcha_id=self._captcha.challenge(device, login))
        return LoginStart(ticket=self.check_password(login, password, device=device))

    def solve_captcha(self, captcha_id: str, device: str, drag: Drag) -> str:
        """A one-time captcha token for the next password step, or Refused."""
        with self._lock:
            return self._captcha.solve(captcha_id, device, drag)

    def check_password(self, login: str, password: str, *, device: str = "") -> str:
        """First login step: a short-lived ticket for the GA step, or Refused."""
        account = self.account(login)
        # Compare even for an unknown login so both failures take the same path.
        expected = account.password if account else secrets.token_urlsafe(16)
        if not hmac.compare_digest(password.encode(), expected.encode()) or account is None:
            raise Refused(WRONG_PASSWORD)
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets[ticket] = _Ticket(
                account.email.lower(), self._clock() + LOGIN_TICKET_TTL_S, device=device
            )
        return ticket

    # -- GA step and the new-device step -----------------------------------------------------

    def finish_login(self, ticket: str, code: str, *, device: str = "") -> str:
        """Second login step without the new-device check: a session token, or Refused."""
        result = self.pass_login_ga(ticket, code, device=device)
        assert result.session is not None  # no device check asked for, so a session it is
        return result.session

    def pass_login_ga(
        self,
        ticket: str,
        code: str,
        *,
        device: str = "",
        new_device_check: bool = False,
        session_ttl_s: float = SESSION_TTL_S,
    ) -> LoginGa:
        """Check the GA code; open a session unless this device must be confirmed by email."""
        with self._lock:
            entry = self._live_ticket(ticket, device, "ga")
            account = self._accounts[entry.email]
            if not self.verify_totp(account, code):
                entry.attempts += 1
                if entry.attempts >= MAX_LOGIN_GA_ATTEMPTS:
                    del self._tickets[ticket]
                raise Refused(WRONG_GA, field="gaCode")
            if new_device_check and not self.knows_device(entry.email, entry.device):
                # No session yet: that waits for the email code.
                entry.stage = "device"
                entry.expires = self._clock() + DEVICE_STEP_TTL_S
                return LoginGa(None, account)
            del self._tickets[ticket]
            return LoginGa(self._open_session(entry, session_ttl_s), account)

    def issue_login_code(self, ticket: str, *, device: str = "") -> tuple[Account, str]:
        """An email code (purpose "login") for a ticket waiting in the new-device step."""
        with self._lock:
            entry = self._live_ticket(ticket, device, "device")
            account = self._accounts[entry.email]
            return account, self._email_codes.issue(entry.email, LOGIN_PURPOSE)

    def confirm_device(
        self,
        ticket: str,
        email_code: str,
        *,
        device: str = "",
        session_ttl_s: float = SESSION_TTL_S,
    ) -> str:
        """The new-device step: a good email code remembers the device and opens a session."""
        with self._lock:
            entry = self._live_ticket(ticket, device, "device")
            self._email_codes.check(entry.email, LOGIN_PURPOSE, email_code)
            self._email_codes.use_up(entry.email, LOGIN_PURPOSE)
            del self._tickets[ticket]
            return self._open_session(entry, session_ttl_s)

    def _live_ticket(self, ticket: str, device: str, stage: str) -> _Ticket:
        entry = self._tickets.get(ticket)
        if entry is None or self._clock() > entry.expires:
            self._tickets.pop(ticket, None)
            raise Refused(LOGIN_EXPIRED, field="ticket")
        # Another browser, or a step out of order, gets the same answer as a stale ticket.
        if entry.device != device or entry.stage != stage:
            raise Refused(LOGIN_EXPIRED, field="ticket")
        return entry

    # -- devices -----------------------------------------------------------------------------

    def knows_device(self, email: str, device: str) -> bool:
        with self._lock:
            return bool(device) and device in self._devices.get(email.strip().lower(), set())

    def remember_device(self, email: str, device: str) -> None:
        if device:
            with self._lock:
                self._devices.setdefault(email.strip().lower(), set()).add(device)

    def known_devices(self, email: str) -> frozenset[str]:
        with self._lock:
            return frozenset(self._devices.get(email.strip().lower(), set()))

    # -- sessions ----------------------------------------------------------------------------

    def _open_session(self, entry: _Ticket, ttl_s: float) -> str:
        # A device that completed a login is known from now on (captcha "new-session" and
        # the new-device check both go by this).
        self.remember_device(entry.email, entry.device)
        token = secrets.token_urlsafe(32)
        self._sessions[token] = _Session(entry.email, self._clock() + ttl_s)
        return token

    def signed_in_before(self, email: str, ttl_s: float = SESSION_TTL_S) -> str:
        """A session token as if the account had logged in earlier in a browser that kept
        it: what a saved session (`htx-keys login`) holds. For fixtures and tests."""
        key = email.strip().lower()
        with self._lock:
            if key not in self._accounts:
                raise KeyError(email)
            token = secrets.token_urlsafe(32)
            self._sessions[token] = _Session(key, self._clock() + ttl_s)
            return token

    def session_account(self, token: str | None) -> Account | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None or self._clock() > session.expires:
                self._sessions.pop(token, None)
                return None
            return self._accounts[session.email]

    def end_session(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def expire_sessions(self, email: str) -> int:
        """End every session of an account now (a saved browser session then fails)."""
        key = email.strip().lower()
        with self._lock:
            ended = [t for t, s in self._sessions.items() if s.email == key]
            for token in ended:
                del self._sessions[token]
            return len(ended)

    # -- Google Authenticator ----------------------------------------------------------------

    def verify_totp(self, account: Account, code: str) -> bool:
        """Check and use up a GA code: login and Security Authentication share this rule."""
        with self._lock:
            step = self._totp_step(account, code)
            if step is None:
                return False
            self._last_ga_step[account.email.lower()] = step
            return True

    def use_ga_code_elsewhere(self, email: str) -> None:
        """For tests: the account's next GA check (login, Security Authentication or REST)
        finds the current step already used, as when a person signed in with the code a moment
        before. A test cannot time that itself: it does not know when a run will submit."""
        with self._lock:
            self._ga_used_elsewhere.add(email.strip().lower())

    def _totp_step(self, account: Account, code: str) -> int | None:
        """The time step a code belongs to, if it is acceptable now (RFC 6238 section 5.2).
        A pending use_ga_code_elsewhere() takes effect first, whatever the code."""
        period = self._totp_step_s
        current = int(self._clock()) // period
        key = account.email.lower()
        if key in self._ga_used_elsewhere:
            self._ga_used_elsewhere.discard(key)
            self._last_ga_step[key] = max(current, self._last_ga_step.get(key, -1))
        if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
            return None
        totp = SeedTotp(account.totp_secret, interval=period)
        last = self._last_ga_step.get(key, -1)
        for step in (current, current - 1):
            if step > last and hmac.compare_digest(totp.at(step * period), code):
                return step
        return None
