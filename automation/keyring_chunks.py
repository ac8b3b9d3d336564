"""Keyring values of any length: long ones split over numbered entries behind a header.

Windows Credential Manager keeps at most 2560 bytes per credential (CRED_MAX_CREDENTIAL_BLOB_SIZE,
5 * 512), and keyring's Windows backend writes the value as UTF-16: about 1280 characters. A
saved browser session is tens of kilobytes and a key index grows with every key, so neither may
depend on one entry. Chunks and not an encrypted file: the value stays in the keyring, where the
user's OS protects, backs up and shows it, with no second place (a file and its key) that can be
lost or copied apart from the other, and no cryptography of our own.

* A value of up to CHUNK_UNITS UTF-16 units is stored as it is, as before: entries written by
  earlier versions read unchanged, and short secrets (passwords, seeds) stay one entry.
* A longer one goes to entries `<username>#<generation>.<n>` (n = 0, 1, ...), and the entry
  `<username>` itself holds the header `htx-keys-chunked:1:<generation>:<count>:<sha256>`.
  A rewrite puts its parts under a new generation and only then replaces the header (one
  keyring call), then removes the old parts: a reader sees the old value or the new, whole.
* The digest catches parts from elsewhere or damaged ones: an error, never a wrong value.

The same on every platform, so the Linux tests (gnome-keyring) cover what Windows relies on.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets

import keyring
import keyring.errors

__all__ = [
    "CHUNK_UNITS",
    "ChunkError",
    "delete_long",
    "is_part_name",
    "read_long",
    "split_units",
    "write_long",
]

# UTF-16 units per entry: 2000 bytes, under Windows' 2560 with room to spare.
CHUNK_UNITS = 1000
PREFIX = "htx-keys-chunked:1:"
_HEADER = re.compile(re.escape(PREFIX) + r"([0-9a-f]{8}):([1-9][0-9]{0,5}):([0-9a-f]{64})")
_PART = re.compile(r"#[0-9a-f]{8}\.[0-9]+\Z")
_READ_ATTEMPTS = 3  # a rewrite may replace the parts while we read them: read again


class ChunkError(keyring.errors.KeyringError):
    """A split value whose parts are missing or do not add up."""


def is_part_name(username: str) -> bool:
    """Whether `username` has the form of a part entry (callers keep their own names apart)."""
    return bool(_PART.search(username))


def _units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def split_units(value: str, size: int = CHUNK_UNITS) -> list[str]:
    """`value` in pieces of at most `size` UTF-16 units, never splitting a character."""
    parts: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(value):
        width = _units(char)
        if used + width > size:
            parts.append(value[start:index])
            start, used = index, 0
        used += width
    parts.append(value[start:])
    return parts


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _part_name(username: str, generation: str, n: int) -> str:
    return f"{username}#{generation}.{n}"


def _header(raw: str | None) -> tuple[str, int, str] | None:
    """(generation, count, digest) of a header; None for a plain value (or none)."""
    if raw is None or not raw.startswith(PREFIX):
        return None
    match = _HEADER.fullmatch(raw)
    if not match:
        raise ChunkError("a split value's header is damaged")
    return match[1], int(match[2]), match[3]


def read_long(service: str, username: str) -> str | None:
    """The value stored by write_long (or by a plain set_password), None when there is none."""
    for _attempt in range(_READ_ATTEMPTS):
        raw = keyring.get_password(service, username)
        header = _header(raw)
        if header is None:
            return raw
        generation, count, digest = header
        parts = [
            keyring.get_password(service, _part_name(username, generation, n)) for n in range(count)
        ]
        if None not in parts:
            value = "".join(p for p in parts if p is not None)
            if _digest(value) != digest:
                raise ChunkError(f"the parts of {username!r} do not match its header")
            return value
        if keyring.get_password(service, username) == raw:  # not rewritten meanwhile: lost
            break
    missing = sum(p is None for p in parts)
    raise ChunkError(f"{missing} of the {count} parts of {username!r} are missing")


def write_long(service: str, username: str, value: str) -> None:
    """Store `value` under `username`, split when one entry could not hold it everywhere."""
    try:
        old = _header(keyring.get_password(service, username))
    except ChunkError:
        old = None  # a damaged header is replaced; its parts cannot be found
    if value.startswith(PREFIX) or len(split_units(value)) > 1:
        generation = secrets.token_hex(4)
        parts = split_units(value)
        for n, part in enumerate(parts):
            keyring.set_password(service, _part_name(username, generation, n), part)
        keyring.set_password(
            service, username, f"{PREFIX}{generation}:{len(parts)}:{_digest(value)}"
        )
    else:
        keyring.set_password(service, username, value)
    if old is not None:
        _delete_parts(service, username, old[0], old[1])


def delete_long(service: str, username: str) -> None:
    """Remove the value and its parts; PasswordDeleteError when there is none, as keyring."""
    try:
        old = _header(keyring.get_password(service, username))
    except ChunkError:
        old = None
    keyring.delete_password(service, username)
    if old is not None:
        _delete_parts(service, username, old[0], old[1])


def _delete_parts(service: str, username: str, generation: str, count: int) -> None:
    for n in range(count):
        # Already gone (removed by hand, or by a rewrite racing this one): nothing to do.
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(service, _part_name(username, generation, n))
