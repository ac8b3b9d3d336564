"""Sandbox accounts: who can log in, with which password and Google Authenticator seed."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

DEMO_EMAIL = "demo@example.test"
DEMO_UID = 10000001
DEMO_SUB_UIDS = (10000101, 10000102)
# The factors the Security Authentication dialog may ask for. Email and GA are always asked;
# older accounts also have SMS (the reference: "older accounts: SMS code too").
AUTH_FACTORS = ("email", "sms", "ga")
REQUIRED_FACTORS = ("email", "ga")
# "+86 13812345678": a country code, then the national number; spaces or dashes may group it.
_PHONE = re.compile(r"^\+(\d{1,3})[ -]+([\d -]+)$")


@dataclass(frozen=True)
class Account:
    email: str
    # Accounts end up in tracebacks and test output; the password and seed must not.
    password: str = field(repr=False)
    totp_secret: str = field(repr=False)
    uid: int
    mailbox: str
    # A mailbox that `mailbox` is an alias of: mail to `mailbox` is delivered there (RCPT TO),
    # as a mail server expanding an alias would, so several accounts can share one mailbox.
    deliver_to: str = ""
    # Sub-users' uids: they have no login of their own; their keys are made over REST.
    sub_uids: tuple[int, ...] = ()
    # Always ask this account for the slider captcha, whatever the server's captcha mode.
    captcha: bool = False
    # What the Security Authentication dialog asks for (in the dialog's order).
    auth_factors: tuple[str, ...] = REQUIRED_FACTORS
    # Where SMS codes go, as "+86 13812345678"; made up from the uid when "sms" is on and none
    # is given, so an SMS account always has somewhere to send to.
    phone: str = ""

    def __post_init__(self) -> None:
        factors = tuple(self.auth_factors)
        problem = auth_factors_problem(factors)
        if problem:
            raise ValueError(f"{self.email}: {problem}")
        phone = normalize_phone(self.phone) if self.phone else ""
        if not phone and "sms" in factors:
            phone = default_phone(self.uid)
        # A frozen dataclass: __post_init__ is the one place that may still settle fields.
        object.__setattr__(self, "auth_factors", tuple(f for f in AUTH_FACTORS if f in factors))
        object.__setattr__(self, "phone", phone)

    @property
    def needs_sms(self) -> bool:
        return "sms" in self.auth_factors


def auth_factors_problem(factors: tuple[object, ...]) -> str | None:
    """Why a list of factors is unacceptable, or None."""
    unknown = [f for f in factors if f not in AUTH_FACTORS]
    if unknown:
        return (
            f"auth_factors: unknown factor(s) {', '.join(map(repr, unknown))}; "
            f"use some of {', '.join(AUTH_FACTORS)}"
        )
    if len(set(factors)) != len(factors):
        return "auth_factors: a factor is listed twice"
    missing = [f for f in REQUIRED_FACTORS if f not in factors]
    if missing:
        return f"auth_factors: must include {' and '.join(REQUIRED_FACTORS)} (missing {missing[0]})"
    return None


def normalize_phone(phone: str) -> str:
    """'+86 138-1234-5678' -> '+86 13812345678'; ValueError for anything else."""
    match = _PHONE.match(phone.strip())
    digits = re.sub(r"[ -]", "", match.group(2)) if match else ""
    if match is None or not digits.isdigit() or not 6 <= len(digits) <= 14:
        raise ValueError(
            "phone must be '+<country code> <number>', e.g. '+86 13812345678' (6 to 14 digits)"
        )
    return f"+{match.group(1)} {digits}"


def default_phone(uid: int) -> str:
    # A mainland mobile number (138...) made from the uid: plausible, and unique per account.
    return f"+86 138{uid % 10**8:08d}"


def mask_phone(phone: str) -> str:
    """'+86 13812345678' -> '+86 138****5678', as the dialog shows where a code went."""
    code, _, number = phone.partition(" ")
    keep = 3 if len(number) >= 8 else 2
    tail = 4 if len(number) >= 8 else 2
    return f"{code} {number[:keep]}****{number[-tail:]}"


def demo_account() -> Account:
    """One made-up account with a fresh random password and seed (used when no file is given)."""
    return Account(
        email=DEMO_EMAIL,
        password=secrets.token_urlsafe(12),
        totp_secret=pyotp.random_base32(),
        uid=DEMO_UID,
        mailbox=DEMO_EMAIL,
        sub_uids=DEMO_SUB_UIDS,
    )


def load_accounts(path: Path) -> list[Account]:
    """Read `[[account]]` tables from a TOML file; ValueError names the file and the problem."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read accounts file: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from exc
    tables = data.get("account")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"{path}: expected at least one [[account]] table")
    accounts = [_account_from_table(path, i, t) for i, t in enumerate(tables, start=1)]
    _check_unique(path, accounts)
    return accounts


def _account_from_table(path: Path, index: int, table: Any) -> Account:
    where = f"{path}: account #{index}"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = set(table) - {
        "email",
        "password",
        "totp_secret",
        "uid",
        "mailbox",
        "deliver_to",
        "sub_uids",
        "captcha",
        "auth_factors",
        "phone",
    }
    if unknown:
        raise ValueError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    email = _required_str(where, table, "email")
    if "@" not in email:
        raise ValueError(f"{where}: email {email!r} is not an email address")
    password = _required_str(where, table, "password")
    secret = _required_str(where, table, "totp_secret").replace(" ", "").upper()
    if not _is_base32(secret):
        # Never echo the seed itself: the message may end up in a CI log.
        raise ValueError(f"{where} ({email}): totp_secret is not valid base32")
    uid = table.get("uid")
    if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
        raise ValueError(f"{where} ({email}): uid must be a positive integer")
    mailbox = table.get("mailbox", email)
    if not isinstance(mailbox, str) or "@" not in mailbox:
        raise ValueError(f"{where} ({email}): mailbox must be an email address")
    deliver_to = table.get("deliver_to", "")
    if not isinstance(deliver_to, str) or (deliver_to and "@" not in deliver_to):
        raise ValueError(f"{where} ({email}): deliver_to must be an email address")
    sub_uids = table.get("sub_uids", [])
    if not isinstance(sub_uids, list) or not all(_is_uid(u) for u in sub_uids):
        raise ValueError(f"{where} ({email}): sub_uids must be a list of positive integers")
    if len(set(sub_uids)) != len(sub_uids) or uid in sub_uids:
        raise ValueError(f"{where} ({email}): sub_uids must be unique and differ from uid")
    captcha = table.get("captcha", False)
    if not isinstance(captcha, bool):
        raise ValueError(f"{where} ({email}): captcha must be true or false")
    factors = table.get("auth_factors", list(REQUIRED_FACTORS))
    if not isinstance(factors, list) or not all(isinstance(f, str) for f in factors):
        raise ValueError(
            f"{where} ({email}): auth_factors must be a list of strings, "
            'e.g. ["email", "sms", "ga"]'
        )
    problem = auth_factors_problem(tuple(factors))
    if problem:
        raise ValueError(f"{where} ({email}): {problem}")
    phone = table.get("phone", "")
    if not isinstance(phone, str):
        raise ValueError(f"{where} ({email}): phone must be a string such as '+86 13812345678'")
    try:
        phone = normalize_phone(phone) if phone.strip() else ""
    except ValueError as exc:
        raise ValueError(f"{where} ({email}): {exc}") from None
    return Account(
        email=email,
        password=password,
        totp_secret=secret,
        uid=uid,
        mailbox=mailbox,
        deliver_to=deliver_to,
        sub_uids=tuple(sub_uids),
        captcha=captcha,
        auth_factors=tuple(factors),
        phone=phone,
    )


def _is_uid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _required_str(where: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key} is required and must be a non-empty string")
    return value.strip() if key != "password" else value


def _is_base32(secret: str) -> bool:
    try:
        return len(base64.b32decode(secret + "=" * (-len(secret) % 8))) > 0
    except (binascii.Error, ValueError):
        return False


def _check_unique(path: Path, accounts: list[Account]) -> None:
    emails = [a.email.lower() for a in accounts]
    # A uid names one user: an account or somebody's sub-user, never both or twice.
    uids = [str(u) for a in accounts for u in (a.uid, *a.sub_uids)]
    for label, values in (("email", emails), ("uid", uids)):
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise ValueError(f"{path}: duplicate {label}: {', '.join(dupes)}")
