"""Everything the sandbox remembers, in memory: sessions, codes, API keys, sent mail and SMS.

One re-entrant lock guards all of it: the server answers from one event loop, but tests and the
mail thread read it from other threads. Time comes from an injected clock so tests can move it.
The login half (accounts, GA codes, login steps, devices, sessions) is `LoginState` in
sandbox/login_state.py; this module adds the codes that authorise actions and the API keys.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import math
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import NamedTuple, TypeVar

from sandbox.accounts import Account
from sandbox.codes import (
    CODE_TTL_S,
    MAX_WRONG_CODES,
)
from sandbox.errors import Refused
from sandbox.login_state import (
    TOTP_STEP_S,
    WRONG_GA,
    LoginState,
)

T = TypeVar("T")

MAX_KEYS = 20
MAX_IPS = 20
MAX_NOTE = 255
NO_IP_VALID_DAYS = 90
EMAIL_CODE_TTL_S = CODE_TTL_S
MAX_WRONG_EMAIL_CODES = MAX_WRONG_CODES
PURPOSES = ("create", "delete")
PERMISSIONS = ("read", "trade", "withdraw")
PERMISSION_LABELS = {"read": "Read-only", "trade": "Trade", "withdraw": "Withdraw"}
# The REST API (Signature V2) spells permissions this way: "readOnly,trade".
REST_PERMISSIONS = {"read": "readOnly", "trade": "trade", "withdraw": "withdraw"}

# The texts the site shows; the README lists them and the page objects may match on them.
NOTE_EMPTY = "Please enter a note"
NOTE_TOO_LONG = f"The note cannot exceed {MAX_NOTE} characters"
TOO_MANY_IPS = f"A maximum of {MAX_IPS} IP addresses can be linked"
TOO_MANY_KEYS = f"You can create a maximum of {MAX_KEYS} API keys"
GET_EMAIL_CODE_FIRST = "Please get the email verification code first"
WRONG_EMAIL_CODE = "Incorrect email verification code"
EMAIL_CODE_EXPIRED = "The email verification code has expired"
KEY_NOT_FOUND = "The API key does not exist"
INVALID_IP = "Invalid IP address: {}"
SMS_NOT_ENABLED = "SMS verification is not enabled for this account"


@dataclass(frozen=True)
class ApiKey:
    """One API key. Shaped for the web table now and for `/v2/user/api-key` later."""

    access_key: str
    secret_key: str = field(repr=False)
    note: str
    permissions: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    created_at: datetime
    email: str
    uid: int
    # Set when a sub-user key is changed over REST (`updateTime`); None means "as created".
    updated_at: datetime | None = None
    # The last signed call the gateway let through with this key; None: never used.
    last_used_at: datetime | None = None

    @property
    def expiring(self) -> bool:
        """HTX deactivates a key with no IP bound and Trade or Withdraw after 90 days of
        inactivity; a read-only key without IPs, and any key with IPs, stays."""
        return not self.ip_addresses and bool({"trade", "withdraw"} & set(self.permissions))

    @property
    def active_since(self) -> datetime:
        """The start of the inactivity count: creation, the last change or the last use."""
        return max(t for t in (self.created_at, self.updated_at, self.last_used_at) if t)

    @property
    def expires_at(self) -> datetime | None:
        return self.active_since + timedelta(NO_IP_VALID_DAYS) if self.expiring else None

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


class SentSms(NamedTuple):
    """One SMS "sent": to whom, the code, and when (epoch seconds, the state's clock)."""

    phone: str
    code: str
    sent_at: float


class SandboxState(LoginState):
    def __init__(
        self,
        accounts: Iterable[Account],
        clock: Callable[[], float] = time.time,
        *,
        totp_step_s: int = TOTP_STEP_S,
    ):
        super().__init__(accounts, clock, totp_step_s=totp_step_s)
        self._keys: dict[str, list[ApiKey]] = {k: [] for k in self._accounts}
        # Sub-user keys by sub uid: made over REST only, never shown in the web table
        # (sandbox/subusers.py changes them under `lock`).
        self.sub_keys: dict[int, list[ApiKey]] = {}
        self.outbox: list[tuple[str, EmailMessage]] = []
        # Every SMS "sent", oldest first; there is no real SMS gateway (sandbox/outbox.py
        # shows them to programs on this machine, as a gateway's API would).
        self.sms_outbox: list[SentSms] = []
        # How often each key page call was made (sandbox/fault_calls.py names them): how a test
        # tells that a run asked for one key, not two.
        self.calls: Counter[str] = Counter()

    # -- email and SMS codes -----------------------------------------------------------------

    def issue_email_code(self, account: Account, purpose: str, *, again: bool = False) -> str:
        """A new code for (account, purpose); it replaces any older one. Refused within 60 s,
        unless the site itself sends `again` (the resend_mail fault)."""
        if purpose not in PURPOSES:
            raise Refused(f"Invalid purpose: {purpose}")
        with self._lock:
            return self._email_codes.issue(account.email, purpose, again=again)

    def withdraw_email_code(self, account: Account, purpose: str, code: str) -> None:
        """Undo a Send whose mail could not be delivered, so the user may retry at once."""
        with self._lock:
            self._email_codes.withdraw(account.email, purpose, code)

    def resend_in(self, account: Account, purpose: str) -> int:
        with self._lock:
            return self._email_codes.resend_in(account.email, purpose)

    def issue_sms_code(self, account: Account, purpose: str) -> str:
        """Text a new code to the account's phone (into `sms_outbox`); same rules as email."""
        if purpose not in PURPOSES:
            raise Refused(f"Invalid purpose: {purpose}")
        if not account.needs_sms:
            raise Refused(SMS_NOT_ENABLED, field="smsCode")
        with self._lock:
            code = self._sms_codes.issue(account.email, purpose)
            self.sms_outbox.append(SentSms(account.phone, code, self._clock()))
            return code

    def sms_resend_in(self, account: Account, purpose: str) -> int:
        with self._lock:
            return self._sms_codes.resend_in(account.email, purpose)

    def _authorized(
        self,
        account: Account,
        purpose: str,
        email_code: str,
        ga_code: str,
        action: Callable[[], T],
        sms_code: str = "",
    ) -> T:
        """Run `action` only if every factor the account has passes; use the codes up only if
        it succeeds. Checked in the dialog's order: email, SMS, GA."""
        with self._lock:
            self._email_codes.check(account.email, purpose, email_code)
            if account.needs_sms:
                self._sms_codes.check(account.email, purpose, sms_code)
            step = self._totp_step(account, ga_code)
            if step is None:
                raise Refused(WRONG_GA, field="gaCode")
            result = action()
            self._last_ga_step[account.email.lower()] = step
            self._email_codes.use_up(account.email, purpose)
            self._sms_codes.use_up(account.email, purpose)
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

    def record_use(self, access_key: str) -> None:
        """A signed call went through with the key: its 90 days of inactivity start again."""
        with self._lock:
            now = self.now()
            for keys in (*self._keys.values(), *self.sub_keys.values()):
                for i, key in enumerate(keys):
                    if key.access_key == access_key:
                        keys[i] = dataclasses.replace(key, last_used_at=now)
                        return

    def check_room(self, account: Account) -> None:
        if len(self.keys_for(account.email)) >= MAX_KEYS:
            raise Refused(TOO_MANY_KEYS)

    def create_key(
        self,
        account: Account,
        request: KeyRequest,
        email_code: str,
        ga_code: str,
        sms_code: str = "",
    ) -> ApiKey:
        return self._authorized(
            account,
            "create",
            email_code,
            ga_code,
            lambda: self.add_key(account, request),
            sms_code=sms_code,
        )

    def delete_key(
        self,
        account: Account,
        access_key: str,
        email_code: str,
        ga_code: str,
        sms_code: str = "",
    ) -> ApiKey:
        with self._lock:
            if not any(k.access_key == access_key for k in self.keys_for(account.email)):
                raise Refused(KEY_NOT_FOUND)
            return self._authorized(
                account,
                "delete",
                email_code,
                ga_code,
                lambda: self.remove_key(account, access_key),
                sms_code=sms_code,
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
