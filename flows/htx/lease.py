"""Leases: a key that ends on its own schedule (`provision --ttl 2h`, `exec --ttl`).

A lease's end is written into the key's note, inside the tool's tag: "ci run 42 [htx-keys
until 20261130T030000Z]". The note lives on HTX, so `keys reap` finds a lease from any machine
that can log in, even when the store that held the key is gone (a CI runner that died). The
end is a UTC time in ISO 8601's basic form (letters, digits: nothing HTX's note field could
refuse or change), to the second, and counts from when the command started, on this machine's
clock (a reaper compares it with its own clock; both keep UTC by NTP, and a lease is minutes
or hours long). A key without "until" in its tag has no lease and is never reaped.
"""

from __future__ import annotations

import datetime as dt
import re

from automation.errors import InputError
from automation.schema import AGE_PATTERN, AGE_UNITS

UNTIL = "until"
STAMP = "%Y%m%dT%H%M%SZ"
MIN_TTL = 1.0  # seconds; a lease shorter than the run itself is allowed (tests), if odd
MAX_TTL = 366 * 86400.0  # a year: a "lease" past that is a key without one
# The tag at the end of a note, with an optional lease: "[htx-keys]", "[htx-keys until ...]".
TAG_AT_END = re.compile(r"\s?\[([A-Za-z0-9._-]{1,32})(?: " + UNTIL + r" (\d{8}T\d{6}Z))?\]$")


def parse_ttl(raw: str, option: str = "--ttl") -> float:
    """Seconds from "2h", "30m", "90s", "1d" (a plain number is minutes, as --min-age)."""
    match = AGE_PATTERN.match(raw)
    if not match:
        raise InputError(f"{option} must be a duration like 2h, 30m or 90s, not {raw!r}")
    number = float(match.group(1))
    seconds = number * AGE_UNITS[(match.group(2) or "m").lower()]
    if not MIN_TTL <= seconds <= MAX_TTL:
        raise InputError(f"{option} must be between 1s and 366d, not {raw.strip()!r}")
    return seconds


def stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime(STAMP)


def lease_end(ttl_s: float, now: dt.datetime | None = None) -> dt.datetime:
    """When a lease of `ttl_s` seconds taken now ends, to the second (rounded up: a lease is
    never shorter than asked)."""
    start = now or dt.datetime.now(dt.UTC)
    end = start + dt.timedelta(seconds=ttl_s)
    whole = end.replace(microsecond=0)
    return whole if whole == end else whole + dt.timedelta(seconds=1)


def tag_text(tag: str, until: dt.datetime | None) -> str:
    """What goes between the brackets: "htx-keys" or "htx-keys until 20261130T030000Z"."""
    return tag if until is None else f"{tag} {UNTIL} {stamp(until)}"


def split_tag(note: str) -> tuple[str, str, dt.datetime | None] | None:
    """(the note without its tag, the tag's name, the lease's end) when the note ends with a
    tag; None when it does not."""
    match = TAG_AT_END.search(note)
    if match is None:
        return None
    until = None
    if match.group(2):
        try:
            until = dt.datetime.strptime(match.group(2), STAMP).replace(tzinfo=dt.UTC)
        except ValueError:  # 20261399T...: digits, but no time; not the tool's tag
            return None
    return note[: match.start()], match.group(1), until


def lease_of(note: str, tag: str | None = None) -> dt.datetime | None:
    """The end of the lease a note carries (in `tag`, or any tag when None); None: no lease."""
    parts = split_tag(note)
    if parts is None or (tag is not None and parts[1] != tag):
        return None
    return parts[2]


def iso(when: dt.datetime | None) -> str | None:
    """A lease's end as records and outputs give times: 2026-11-30T03:00:00Z."""
    return None if when is None else when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_left(until: dt.datetime, now: dt.datetime) -> str:
    """ "ended 5m ago" / "ends in 1.5h", for tables and progress."""
    seconds = (until - now).total_seconds()
    span = abs(seconds)
    if span < 120:
        text = f"{span:.0f}s"
    elif span < 7200:
        text = f"{span / 60:.0f}m"
    elif span < 172800:
        text = f"{span / 3600:.1f}h"
    else:
        text = f"{span / 86400:.1f}d"
    return f"ended {text} ago" if seconds <= 0 else f"ends in {text}"
