"""The audit trail's entries: what was done to which key, when, by which CI run, and how it
ended. automation/audit.py appends them (0600, locked); `keys history` reads them.

An entry holds the key's public facts only (access key, note, permissions, IP addresses, the
lease), never its secret; the account is its login, the site its URL. A log that cannot be
written does not undo what was done on HTX (a key made must stay stored and reported): the
run says so on stderr and goes on.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from automation.audit import AUDIT_FILE, AuditError, append, ci_run, read
from automation.config import Settings
from automation.runner import Reporter
from automation.store import KeyRecord
from flows.htx.key_list import ExchangeKey
from flows.htx.lease import iso, lease_of

CREATE, REVOKE, ROTATE, REAP = "create", "revoke", "rotate", "reap"
EVENTS = (CREATE, REVOKE, ROTATE, REAP)


def audit_path(settings: Settings) -> Path:
    """HTX_KEYS_AUDIT_LOG, else audit.jsonl in the state dir."""
    return settings.audit_log or settings.state_dir / AUDIT_FILE


def record_facts(record: KeyRecord) -> dict[str, Any]:
    """A stored or new key's public facts."""
    facts: dict[str, Any] = {
        "access_key": record.access_key,
        "note": record.note,
        "permissions": list(record.permissions),
        "ip_addresses": list(record.ip_addresses),
        "lease_until": record.lease_until,
    }
    if record.sub_uid is not None:
        facts["sub_uid"] = record.sub_uid
    return facts


def key_facts(key: ExchangeKey | None, access_key: str) -> dict[str, Any]:
    """A key as HTX lists it (its lease read from its note); only the access key when the
    listing did not show it."""
    if key is None:
        return {"access_key": access_key}
    return {
        "access_key": key.access_key,
        "note": key.note,
        "permissions": list(key.permissions),
        "ip_addresses": list(key.ip_addresses),
        "lease_until": iso(lease_of(key.note)),
    }


def build_entry(
    event: str,
    settings: Settings,
    facts: Mapping[str, Any],
    outcome: str,
    *,
    now: dt.datetime | None = None,
    env: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One line of the log: time, event, account, site, the key's facts, the outcome, the CI
    run (None outside CI), the host, and anything `extra` (a rotation's new key)."""
    when = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    entry: dict[str, Any] = {
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event": event,
        "account": settings.email or "",
        "site": settings.base_url,
        **facts,
        "outcome": outcome,
        "ci": ci_run(env),
        "host": socket.gethostname(),
    }
    entry.update(extra)
    return entry


def audit(
    settings: Settings,
    event: str,
    facts: Mapping[str, Any],
    outcome: str = "ok",
    reporter: Reporter | None = None,
    **extra: Any,
) -> None:
    """Append one entry; a log that cannot be written is a warning, never a failure."""
    try:
        append(audit_path(settings), build_entry(event, settings, facts, outcome, **extra))
    except AuditError as exc:
        if reporter is not None:
            reporter.info(f"warning: not recorded in the audit log: {exc.message}")


def failed(exc: BaseException) -> str:
    """An outcome for an operation that stopped: its class, never its message (which may
    name the page's texts; the log keeps facts)."""
    return f"failed ({type(exc).__name__})"


def audited_on_key(
    settings: Settings, on_key: Callable[[KeyRecord], None] | None, reporter: Reporter
) -> Callable[[KeyRecord], None]:
    """`on_key` (CI masks the pair first of all), then a "create" entry: the moment a pair
    exists on HTX, before it is stored, so a run killed after that leaves the line."""

    def seen(record: KeyRecord) -> None:
        try:
            if on_key is not None:
                on_key(record)
        finally:
            audit(settings, CREATE, record_facts(record), "created", reporter)

    return seen


def history(
    settings: Settings,
    *,
    access_key: str | None = None,
    event: str | None = None,
    every_account: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The log's entries, oldest first: the account's (or every account's), of one key or
    one event when asked, the last `limit`."""
    account = (settings.email or "").lower()
    chosen: Iterable[dict[str, Any]] = read(audit_path(settings))
    rows = [
        e
        for e in chosen
        if (every_account or not account or str(e.get("account", "")).lower() == account)
        and (access_key is None or e.get("access_key") == access_key)
        and (event is None or e.get("event") == event)
    ]
    return rows[-limit:] if limit else rows
