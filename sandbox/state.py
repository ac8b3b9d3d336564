"""Everything the sandbox remembers, in memory: sessions, codes, API keys, sent mail.

One re-entrant lock guards all of it: the server answers from one event loop, but tests and the
mail thread read it from other threads. Time comes from an injected clock so tests can move it.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import TypeVar

import pyotp

from sandbox.accounts import Account

T = TypeVar("T")

MAX_KEYS = 20
MAX_IPS = 20
MAX_NOTE = 255
NO_IP_VALID_DAYS = 90
EMAIL_CODE_TTL_S = 600
RESEND_AFTER_S = 60
MAX_WRONG_EMAIL_CODES = 5
LOGIN_TICKET_TTL_S = 300
MAX_LOGIN_GA_ATTEMPTS = 5
SESSION_TTL_S = 24 * 3600
TOTP_STEP_S = 30
PURPOSES = ("create", "delete")
PERMISSIONS = ("read", "trade", "withdraw")
PERMISSION_LABELS = {"read": "Read-only", "trade": "Trade", "withdraw": "Withdraw"}
# The REST API (Signature V2) spells permissions this way: "readOnly,trade".
REST_PERMISSIONS = {"read": "readOnly", "trade": "trade", "withdraw": "withdraw"}

# The texts the site shows; the README lists them and the page objects may match on them.
WRONG_PASSWORD = "Incorrect account or password"
WRONG_GA = "Incorrect Google Authenticator code"
LOGIN_EXPIRED = "The verification has expired, please log in again"
NOTE_EMPTY = "Please enter a note"
NOTE_TOO_LONG = f"The note cannot exceed {MAX_NOTE} characters"
TOO_MANY_IPS = f"A maximum of {MAX_IPS} IP addresses can be linked"
TOO_MANY_KEYS = f"You can create a maximum of {MAX_KEYS} API keys"
GET_EMAIL_CODE_FIRST = "Please get the email verification code first"
WRONG_EMAIL_CODE = "Incorrect email verification code"
EMAIL_CODE_EXPIRED = "The email verification code has expired"
KEY_NOT_FOUND = "The API key does not exist"
INVALID_IP = "Invalid IP address: {}"
RESEND_TOO_SOON = "Please try again in {} seconds"


class Refused(Exception):
    """The site turns the request down; `errors` maps a form field (or "form") to its text."""

    def __init__(self, errors: dict[str, str] | str, *, field: str = "form", status: int = 400):
        self.errors = {field: errors} if isinstance(errors, str) else dict(errors)
        self.status = status
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return next(iter(self.errors.values()))

    @property
    def field(self) -> str:
        return next(iter(self.errors))


class SeedTotp(pyotp.TOTP):
    """Exchanges hand out 16-character (80-bit) GA seeds; pyotp >= 2.10 refuses those."""

    def byte_secret(self) -> bytes:
        secret = self.secret.replace(" ", "").upper()
        return base64.b32decode(secret + "=" * (-len(secret) % 8))


@dataclass(frozen=True)
class ApiKey:
    """One API key. Shaped for the web table now and for `/v2/user/api-key` later."""

    access_key: str
    secret_key: str = field(repr=False)
    note: str
    permissions: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    email: str
    uid: int
    # Set when a sub-user key is changed over REST (`updateTime`); None means "as created".
    updated_at: datetime | None = None

    @property
    def status(self) -> str:
        return self.status_at(datetime.now(UTC))

    def status_at(self, now: datetime) -> str:
        return "expired" if self.expires_at is not None and now >= self.expires_at else "normal"

    def valid_days_at(self, now: datetime) -> int:
        """Whole days left, rounded up; -1 for a key that never expires (the REST API's value)."""
        if self.expires_at is None:
            return -1
        left = (self.expires_at - now).total_seconds()
        return max(0, math.ceil(left / 86400))

    @property
    def permission_text(self) -> str:
        return ",".join(REST_PERMISSIONS[p] for p in self.permissions)

    @property
    def permission_labels(self) -> str:
        return ", ".join(PERMISSION_LABELS[p] for p in self.permissions)


@dataclass(frozen=True)
class KeyRequest:
    """A create request after the site's own clean-up: trimmed note, canonical unique IPs."""

    note: str
    permissions: tuple[str, ...]
    ip_addresses: tuple[str, ...]


def parse_key_request(note: object, permissions: object, ips: object) -> KeyRequest:
    errors: dict[str, str] = {}
    text = note.strip() if isinstance(note, str) else ""
    if not text:
        errors["note"] = NOTE_EMPTY
    elif len(text) > MAX_NOTE:
        errors["note"] = NOTE_TOO_LONG
    perms: tuple[str, ...] = ("read",)
    try:
        perms = parse_permissions(permissions)
    except Refused as exc:
        errors.update(exc.errors)
    addresses: tuple[str, ...] = ()
    try:
        addresses = parse_ips(ips)
    except Refused as exc:
        errors.update(exc.errors)
    if errors:
        raise Refused(errors)
    return KeyRequest(note=text, permissions=perms, ip_addresses=addresses)


def parse_permissions(value: object) -> tuple[str, ...]:
    given = value if isinstance(value, list | tuple) else []
    for p in given:
        if p not in PERMISSIONS:
            raise Refused(f"Invalid permission: {p}", field="permissions")
    # "read" is always granted, whatever was sent; keep the site's order.
    return tuple(p for p in PERMISSIONS if p == "read" or p in given)


def parse_ips(value: object) -> tuple[str, ...]:
    """Comma-separated hosts (IPv4/IPv6) and IPv4 networks, trimmed, empties and repeats dropped."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise Refused(INVALID_IP.format(value), field="ips")
    result: list[str] = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        canonical = _canonical_ip(entry)
        if canonical is None:
            raise Refused(INVALID_IP.format(entry), field="ips")
        if canonical not in result:
            result.append(canonical)
    if len(result) > MAX_IPS:
        raise Refused(TOO_MANY_IPS, field="ips")
    return tuple(result)


def _canonical_ip(entry: str) -> str | None:
    if "%" in entry:  # IPv6 zone ids mean nothing to a remote server
        return None
    try:
        if "/" in entry:
            net = ipaddress.ip_network(entry, strict=False)
            # HTX binds IPv4 ranges only; a v6 range (even /128) is refused.
            return str(net) if net.version == 4 else None
        return str(ipaddress.ip_address(entry))
    except ValueError:
        return None


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:2]}***@{domain}"


def _new_key_part() -> str:
    return "-".join(
        [secrets.token_hex(4), secrets.token_hex(4), secrets.token_hex(4), secrets.token_hex(3)[:5]]
    )


@dataclass
class _EmailCode:
    code: str
    issued_at: float
    wrong: int = 0


@dataclass
class _Ticket:
    email: str
    expires: float
    attempts: int = 0


@dataclass
class _Session:
    email: str
    expires: float


class SandboxState:
    def __init__(self, accounts: Iterable[Account], clock: Callable[[], float] = time.time):
        self._accounts = {a.email.lower(): a for a in accounts}
        self._clock = clock
        self._lock = threading.RLock()
        self._tickets: dict[str, _Ticket] = {}
        self._sessions: dict[str, _Session] = {}
        self._last_ga_step: dict[str, int] = {}
        self._codes: dict[tuple[str, str], _EmailCode] = {}
        self._last_send: dict[tuple[str, str], float] = {}
        self._keys: dict[str, list[ApiKey]] = {k: [] for k in self._accounts}
        # Sub-user keys by sub uid: made over REST only, never shown in the web table
        # (sandbox/subusers.py changes them under `lock`).
        self.sub_keys: dict[int, list[ApiKey]] = {}
        self.outbox: list[tuple[str, EmailMessage]] = []

    # -- time and accounts -------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self._clock()), UTC)

    @property
    def lock(self) -> threading.RLock:
        """The one lock; modules that extend the state (sub-user keys) take it too."""
        return self._lock

    @property
    def accounts(self) -> list[Account]:
        return list(self._accounts.values())

    def account(self, email: str) -> Account | None:
        return self._accounts.get(email.strip().lower())

    # -- login and sessions ------------------------------------------------------------------

    def check_password(self, login: str, password: str) -> str:
        """First login step: a short-lived ticket for the GA step, or Refused."""
        account = self.account(login)
        # Compare even for an unknown login so both failures take the same path.
        expected = account.password if account else secrets.token_urlsafe(16)
        if not hmac.compare_digest(password.encode(), expected.encode()) or account is None:
            raise Refused(WRONG_PASSWORD)
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets[ticket] = _Ticket(
                account.email.lower(), self._clock() + LOGIN_TICKET_TTL_S
            )
        return ticket

    def finish_login(self, ticket: str, code: str) -> str:
        """Second login step: consume the ticket on a good GA code and open a session."""
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None or self._clock() > entry.expires:
                self._tickets.pop(ticket, None)
                raise Refused(LOGIN_EXPIRED, field="ticket")
            account = self._accounts[entry.email]
            if not self.verify_totp(account, code):
                entry.attempts += 1
                if entry.attempts >= MAX_LOGIN_GA_ATTEMPTS:
                    del self._tickets[ticket]
                raise Refused(WRONG_GA, field="gaCode")
            del self._tickets[ticket]
            token = secrets.token_urlsafe(32)
            self._sessions[token] = _Session(entry.email, self._clock() + SESSION_TTL_S)
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

    # -- Google Authenticator ----------------------------------------------------------------

    def verify_totp(self, account: Account, code: str) -> bool:
        """Check and use up a GA code: login and Security Authentication share this rule."""
        with self._lock:
            step = self._totp_step(account, code)
            if step is None:
                return False
            self._last_ga_step[account.email.lower()] = step
            return True

    def _totp_step(self, account: Account, code: str) -> int | None:
        """The time step a code belongs to, if it is acceptable now (RFC 6238 section 5.2)."""
        if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
            return None
        totp = SeedTotp(account.totp_secret, interval=TOTP_STEP_S)
        current = int(self._clock()) // TOTP_STEP_S
        last = self._last_ga_step.get(account.email.lower(), -1)
        for step in (current, current - 1):
            if step > last and hmac.compare_digest(totp.at(step * TOTP_STEP_S), code):
                return step
        return None

    # -- email codes -------------------------------------------------------------------------

    def issue_email_code(self, account: Account, purpose: str) -> str:
        """A new code for (account, purpose); it replaces any older one. Refused within 60 s."""
        if purpose not in PURPOSES:
            raise Refused(f"Invalid purpose: {purpose}")
        key = (account.email.lower(), purpose)
        with self._lock:
            wait = self.resend_in(account, purpose)
            if wait > 0:
                raise Refused(RESEND_TOO_SOON.format(wait), field="emailCode")
            code = f"{secrets.randbelow(10**6):06d}"
            self._codes[key] = _EmailCode(code, self._clock())
            self._last_send[key] = self._clock()
            return code

    def withdraw_email_code(self, account: Account, purpose: str, code: str) -> None:
        """Undo a Send whose mail could not be delivered, so the user may retry at once."""
        key = (account.email.lower(), purpose)
        with self._lock:
            entry = self._codes.get(key)
            if entry is not None and entry.code == code:
                del self._codes[key]
                self._last_send.pop(key, None)

    def resend_in(self, account: Account, purpose: str) -> int:
        with self._lock:
            last = self._last_send.get((account.email.lower(), purpose))
        if last is None:
            return 0
        return max(0, math.ceil(last + RESEND_AFTER_S - self._clock()))

    def _check_email_code(self, account: Account, purpose: str, code: str) -> None:
        key = (account.email.lower(), purpose)
        entry = self._codes.get(key)
        if entry is None:
            raise Refused(GET_EMAIL_CODE_FIRST, field="emailCode")
        if self._clock() - entry.issued_at > EMAIL_CODE_TTL_S:
            raise Refused(EMAIL_CODE_EXPIRED, field="emailCode")
        if not hmac.compare_digest(entry.code.encode(), str(code).strip().encode()):
            entry.wrong += 1
            if entry.wrong >= MAX_WRONG_EMAIL_CODES:
                # Plain anti-brute-force: a million codes, five guesses, then Send again.
                del self._codes[key]
            raise Refused(WRONG_EMAIL_CODE, field="emailCode")

    def _authorized(
        self, account: Account, purpose: str, email_code: str, ga_code: str, action: Callable[[], T]
    ) -> T:
        """Run `action` only if both codes pass; use the codes up only if it succeeds."""
        with self._lock:
            self._check_email_code(account, purpose, email_code)
            step = self._totp_step(account, ga_code)
            if step is None:
                raise Refused(WRONG_GA, field="gaCode")
            result = action()
            self._last_ga_step[account.email.lower()] = step
            del self._codes[(account.email.lower(), purpose)]
            return result

    # -- API keys ----------------------------------------------------------------------------

    def keys_for(self, email: str) -> list[ApiKey]:
        with self._lock:
            return list(self._keys.get(email.strip().lower(), []))

    def find_key(self, access_key: str) -> ApiKey | None:
        with self._lock:
            # Web keys and sub-user keys share one namespace: the REST API finds either.
            for keys in (*self._keys.values(), *self.sub_keys.values()):
                for key in keys:
                    if hmac.compare_digest(key.access_key, access_key):
                        return key
        return None

    def check_room(self, account: Account) -> None:
        if len(self.keys_for(account.email)) >= MAX_KEYS:
            raise Refused(TOO_MANY_KEYS)

    def create_key(
        self, account: Account, request: KeyRequest, email_code: str, ga_code: str
    ) -> ApiKey:
        return self._authorized(
            account, "create", email_code, ga_code, lambda: self.add_key(account, request)
        )

    def delete_key(
        self, account: Account, access_key: str, email_code: str, ga_code: str
    ) -> ApiKey:
        with self._lock:
            if not any(k.access_key == access_key for k in self.keys_for(account.email)):
                raise Refused(KEY_NOT_FOUND)
            return self._authorized(
                account, "delete", email_code, ga_code, lambda: self.remove_key(account, access_key)
            )

    def add_key(self, account: Account, request: KeyRequest) -> ApiKey:
        """Store a new key without any code check (the caller has done the checking)."""
        with self._lock:
            self.check_room(account)
            now = self.now()
            access = _new_key_part()
            while self.find_key(access) is not None:
                access = _new_key_part()
            key = ApiKey(
                access_key=access,
                secret_key=_new_key_part(),
                note=request.note,
                permissions=request.permissions,
                ip_addresses=request.ip_addresses,
                created_at=now,
                expires_at=None if request.ip_addresses else now + timedelta(NO_IP_VALID_DAYS),
                email=account.email,
                uid=account.uid,
            )
            self._keys[account.email.lower()].append(key)
            return key

    def remove_key(self, account: Account, access_key: str) -> ApiKey:
        with self._lock:
            keys = self._keys[account.email.lower()]
            for i, key in enumerate(keys):
                if key.access_key == access_key:
                    return keys.pop(i)
        raise Refused(KEY_NOT_FOUND)

    # -- mail --------------------------------------------------------------------------------

    def record_mail(self, rcpt: str, msg: EmailMessage) -> None:
        with self._lock:
            self.outbox.append((rcpt, msg))
