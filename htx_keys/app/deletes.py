"""What a bulk delete may delete, and the go-ahead it needs first (`keys reconcile --revoke`,
`keys revoke --note NOTE --all`).

An orphan is a key of the tool (its tag in the note) whose access key no entry of the store
holds. It is deleted only when HTX made it at least `min_age` ago: a younger one may belong to
a run that has not stored it yet, and is left alone as "too new to judge". Ages come from the
REST API's createTime (milliseconds since the epoch) when a stored key can sign, else from the
API Management table, whose times carry no zone [I: the live site may show local time]: a key
held here that the table lists tells the table's offset from UTC; without one, the table may
be in any zone from UTC-12 to UTC+14, and a key is old enough only if it is under every one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from automation.errors import ConfigError, InputError, Interrupted, StoreError
from automation.store import KeyRecord, Store
from flows.htx.key_list import ExchangeKey
from flows.htx.limits import has_tag

DELETE = "delete"
TOO_NEW = "too new to judge"
WEST_MOST = -12 * 3600.0  # seconds: the zone that shows a time furthest behind UTC
ZONE_STEP = 15 * 60.0  # every zone's offset is a multiple of a quarter hour
SAME_MOMENT = 5 * 60.0  # a stored created_at is the tool's clock seconds after HTX made the key


@dataclass(frozen=True)
class Planned:
    """One key a bulk delete looked at, and what it decided."""

    key: ExchangeKey
    verdict: str  # DELETE or TOO_NEW
    why: str = ""

    @property
    def access_key(self) -> str:
        return self.key.access_key

    def row(self) -> dict[str, Any]:
        return {**self.key.to_dict(), "verdict": self.verdict, "why": self.why}


def parse_time(text: str) -> dt.datetime | None:
    """An ExchangeKey's or KeyRecord's "YYYY-MM-DDTHH:MM:SSZ" (UTC); None for anything else."""
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def table_offset(keys: Iterable[ExchangeKey], records: Iterable[KeyRecord]) -> float | None:
    """Seconds the table's times run ahead of UTC, told by the keys held here that it lists
    (each stored with the tool's own UTC time of its creation); None when no held key tells
    it or two disagree."""
    made = {r.access_key: parse_time(r.created_at) for r in records if r.sub_uid is None}
    offsets = set()
    for key in keys:
        shown, stored = parse_time(key.created_at), made.get(key.access_key)
        if shown is None or stored is None:
            continue
        gap = (shown - stored).total_seconds()
        zone = round(gap / ZONE_STEP) * ZONE_STEP
        if abs(gap - zone) > SAME_MOMENT:
            return None  # not a zone apart: the table's times are not understood
        offsets.add(zone)
    return offsets.pop() if len(offsets) == 1 else None


def least_age(key: ExchangeKey, now: dt.datetime, offset: float | None) -> float | None:
    """The key's age in seconds, at least: exact with a known `offset` of its times (0 for
    the REST API's), the smallest any zone allows without one; None when unreadable."""
    shown = parse_time(key.created_at)
    if shown is None:
        return None
    age = (now - shown).total_seconds()
    return age + (WEST_MOST if offset is None else offset)


def judge_orphans(
    keys: Sequence[ExchangeKey],
    held: set[str],
    tag: str,
    now: dt.datetime,
    min_age: float,
    offset: float | None = 0.0,
) -> list[Planned]:
    """The tool's keys on HTX whose secret no entry of the store holds: each to delete, or too
    new to judge. Keys made by hand (no tag) and keys held here are never in the list."""
    planned = []
    for key in keys:
        if not has_tag(key.note, tag) or key.access_key in held:
            continue
        age = least_age(key, now, offset)
        if age is None:
            planned.append(Planned(key, TOO_NEW, f"creation time {key.created_at!r} unreadable"))
        elif age < min_age and offset is None:
            why = f"may be under {_duration(min_age)} old: the table's time zone is unknown"
            planned.append(Planned(key, TOO_NEW, why))
        elif age < min_age:
            why = f"{_duration(max(age, 0))} old, under the {_duration(min_age)} minimum"
            planned.append(Planned(key, TOO_NEW, why))
        else:
            planned.append(Planned(key, DELETE))
    return planned


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def stored_records(store: Store) -> list[KeyRecord]:
    """Every record of the store, for a decision that deletes: an entry that cannot be read
    stops the run (a key whose entry is unreadable is not a key that is not held)."""
    try:
        return store.list_all()
    except StoreError as exc:
        # Exit 3, as check_store() makes of a store found unfit before anything happens: a
        # store to repair; 8 stays for "a key was made and could not be stored".
        raise ConfigError(
            f"Cannot read every key in {store.location} ({exc.message}): repair or remove "
            "that entry first; nothing was deleted"
        ) from None


def held_keys(store: Store) -> set[str]:
    """The access keys of every record in the store, of any account and site: a secret held
    here in any form is never taken for an orphan."""
    return {r.access_key for r in stored_records(store)}


@dataclass(frozen=True)
class Consent:
    """How a bulk delete gets its go-ahead: --yes, --dry-run, or a person's answer."""

    yes: bool = False
    dry_run: bool = False
    ask: Callable[[str], bool] | None = None  # a yes/no question; None: no one to ask
    show: Callable[[str], None] = lambda _text: None  # the table, before the question


def approve(consent: Consent, table: str, count: int) -> None:
    """Show what will be deleted; go on with --yes or a "yes", else stop having deleted
    nothing."""
    consent.show(table)
    if consent.yes:
        return
    if consent.ask is None:
        raise InputError("Deleting keys needs a yes: add --yes (nothing was deleted)")
    if not consent.ask(f"Delete {count} key(s) on HTX?"):
        raise Interrupted("Not confirmed: nothing was deleted")
