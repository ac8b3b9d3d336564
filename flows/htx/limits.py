"""What HTX accepts in the create-key form, checked before any browser starts.

Limits from HTX's API docs and changelog (see shared/htx-reference.md): a note of at most 255
characters, at most 20 IP addresses or IPv4 ranges per key, 20 keys per account, and a key
with no IP bound and Trade or Withdraw permission is deactivated after 90 days of inactivity
(counted from its last use; a read-only key without IPs does not expire).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from automation.errors import InputError
from flows.htx.lease import split_tag, tag_text

MAX_NOTE = 255
MAX_IPS = 20
MAX_KEYS = 20
NO_IP_EXPIRY_DAYS = 90
PERMISSIONS = ("read", "trade", "withdraw")


@dataclass(frozen=True)
class KeyRequest:
    """A checked request for one API key."""

    note: str
    permissions: tuple[str, ...]  # always starts with "read"
    ip_addresses: tuple[str, ...]

    @property
    def expires(self) -> bool:
        """HTX deactivates the key if it goes unused for 90 days: no IP bound, and it can
        trade or withdraw. A read-only key without IPs, or any key with IPs, stays."""
        return not self.ip_addresses and any(p in self.permissions for p in ("trade", "withdraw"))

    def expiry_if_unused(self, created: dt.datetime) -> dt.datetime | None:
        """When the key expires if it is never used: an estimate, since each use restarts the
        count; HTX's own `validDays` is the authority once the key exists."""
        return created + dt.timedelta(days=NO_IP_EXPIRY_DAYS) if self.expires else None


def tag_note(note: str, tag: str, until: dt.datetime | None = None) -> str:
    """The note as the key carries it on HTX: "ci-bot [htx-keys]", or with a lease "ci-bot
    [htx-keys until 20261130T030000Z]" (the tag marks the keys this tool made; `keys
    reconcile` and `keys reap` only ever look at those). Tagged once only: a note that has
    the tag keeps it, and its lease."""
    if not tag or has_tag(note, tag):
        return note
    return f"{note} [{tag_text(tag, until)}]"


def has_tag(note: str, tag: str) -> bool:
    parts = split_tag(note)
    return bool(tag) and parts is not None and parts[1] == tag


def untagged(note: str, tag: str) -> str:
    """The note without the tool's tag (and lease): what a person gave as --note."""
    parts = split_tag(note)
    return parts[0] if tag and parts is not None and parts[1] == tag else note


def note_matches(on_exchange: str, wanted: str, tag: str) -> bool:
    """`--note ci-bot` names the key whose note is "ci-bot [htx-keys]" (with a lease or
    not), or "ci-bot" itself."""
    wanted = wanted.strip()
    if on_exchange == wanted:
        return True
    return has_tag(on_exchange, tag) and untagged(on_exchange, tag) == untagged(wanted, tag)


# How a message names a character a note cannot hold: these few by what they do, the
# others by their Unicode category, or by their own name when they have one.
CHARACTER_NAMES = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}
# Zero-width (non-)joiners are format characters that scripts (Persian, Indic) and emoji
# sequences need; they hide nothing that matters in a note.
JOINERS = frozenset({"\u200c", "\u200d"})
CATEGORY_NAMES = {
    "Cc": "a control character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned character",
}


def unprintable(text: str) -> str | None:
    """The first character of `text` a one-line note cannot show (control and format
    characters, line and paragraph separators, unassigned code points), described; else None.
    Spaces of any width are fine."""
    for index, char in enumerate(text, 1):
        category = unicodedata.category(char)
        if char.isprintable() or category == "Zs" or char in JOINERS:
            continue
        name = CHARACTER_NAMES.get(char) or CATEGORY_NAMES.get(category)
        if name is None:  # Cf, Zl, Zp: invisible, and every one of them has a name
            name = f"the {unicodedata.name(char, 'invisible character').lower()}"
        return f"{name} (U+{ord(char):04X}) at character {index}"
    return None


def check_note_text(note: str, option: str = "--note") -> None:
    """A note is one line of printable text: HTX shows it in one table cell, and a line break
    or an invisible character would make the key hard to find and to tell apart."""
    found = unprintable(note)
    if found:
        raise InputError(f"{option} must be one line of printable text; it holds {found}")


def check_note(note: str | None, tag: str = "", until: dt.datetime | None = None) -> str:
    check_note_text(note or "")
    text = (note or "").strip()
    if not text:
        raise InputError("--note is required and cannot be empty (HTX makes the note compulsory)")
    if len(text) > MAX_NOTE:
        raise InputError(f"--note is {len(text)} characters long; HTX allows at most {MAX_NOTE}")
    if until is not None and not tag:
        raise InputError(
            "--ttl writes the lease into the tool's tag, and HTX_KEYS_NOTE_TAG is 'none'"
        )
    if until is not None and has_tag(text, tag):
        raise InputError(f"--note already ends with the tool's tag [{tag}]: give it without")
    tagged = tag_note(text, tag, until)
    if len(tagged) > MAX_NOTE:
        fix = "shorten it" if until else "shorten it, or set HTX_KEYS_NOTE_TAG=none"
        raise InputError(
            f"--note is {len(text)} characters long, {len(tagged)} with the tool's tag "
            f"'{tagged[len(text) :]}'; HTX allows at most {MAX_NOTE} ({fix})"
        )
    return tagged


def check_permissions(values: Iterable[str], *, allow_withdraw: bool) -> tuple[str, ...]:
    chosen = {"read"}
    for value in values:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in PERMISSIONS:
                raise InputError(
                    f"Unknown permission {part.strip()!r}: use read, trade or withdraw"
                )
            chosen.add(name)
    if "withdraw" in chosen and not allow_withdraw:
        raise InputError(
            "The withdraw permission needs --allow-withdraw "
            "(a key that can withdraw can move funds out of the account)"
        )
    return tuple(p for p in PERMISSIONS if p in chosen)


def check_ip(text: str) -> str:
    """An IPv4/IPv6 host address or an IPv4 range, as HTX's "Link IP Address" field takes.

    Returned in the form the exchange keeps: 192.168.0.1/24 as 192.168.0.0/24, IPv6 in its
    short lower-case form, so what is stored and printed is what HTX binds.
    """
    if "%" in text:  # fe80::1%eth0: a zone only means something on this machine
        raise InputError(f"Invalid IP address: {text} (no zone ids)")
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InputError(f"Invalid IP address or range: {text}") from None
        if network.version != 4:
            raise InputError(f"Invalid IP range: {text} (HTX takes IPv4 ranges only)")
        return str(network)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InputError(f"Invalid IP address: {text}") from None


def check_ips(values: Iterable[str]) -> tuple[str, ...]:
    """Repeatable and comma-separated values, in order, without duplicates."""
    seen: dict[str, None] = {}
    for value in values:
        for part in value.split(","):
            item = part.strip()
            if item:
                seen.setdefault(check_ip(item), None)
    if len(seen) > MAX_IPS:
        raise InputError(f"{len(seen)} IP addresses given; HTX links at most {MAX_IPS} to one key")
    return tuple(seen)


def check_request(
    note: str | None,
    permissions: Iterable[str],
    ips: Iterable[str],
    *,
    allow_withdraw: bool = False,
    tag: str = "",
    until: dt.datetime | None = None,
) -> KeyRequest:
    """`until`: the end of the key's lease (--ttl), written into its tag."""
    return KeyRequest(
        note=check_note(note, tag, until),
        permissions=check_permissions(permissions, allow_withdraw=allow_withdraw),
        ip_addresses=check_ips(ips),
    )
