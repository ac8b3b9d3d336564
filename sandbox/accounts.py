"""Sandbox accounts: who can log in, with which password and Google Authenticator seed."""

from __future__ import annotations

import base64
import binascii
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

DEMO_EMAIL = "demo@example.test"
DEMO_UID = 10000001
DEMO_SUB_UIDS = (10000101, 10000102)


@dataclass(frozen=True)
class Account:
    email: str
    # Accounts end up in tracebacks and test output; the password and seed must not.
    password: str = field(repr=False)
    totp_secret: str = field(repr=False)
    uid: int
    mailbox: str
    # Sub-users' uids: they have no login of their own; their keys are made over REST.
    sub_uids: tuple[int, ...] = ()


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
    unknown = set(table) - {"email", "password", "totp_secret", "uid", "mailbox", "sub_uids"}
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
    sub_uids = table.get("sub_uids", [])
    if not isinstance(sub_uids, list) or not all(_is_uid(u) for u in sub_uids):
        raise ValueError(f"{where} ({email}): sub_uids must be a list of positive integers")
    if len(set(sub_uids)) != len(sub_uids) or uid in sub_uids:
        raise ValueError(f"{where} ({email}): sub_uids must be unique and differ from uid")
    return Account(
        email=email,
        password=password,
        totp_secret=secret,
        uid=uid,
        mailbox=mailbox,
        sub_uids=tuple(sub_uids),
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
