"""File stores (JSON list, .env) and the rescue file: 0600, atomic, locked, never clobbering."""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dotenv

from automation.errors import InputError, StoreError
from automation.files import atomic_write, fsync_dir
from automation.locks import file_lock
from automation.redaction import REDACTOR
from automation.store_base import KeyRecord, Store, one_line, short


def _check_writable(path: Path) -> None:
    """The file can be created or replaced: an existing ancestor directory we may write."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise StoreError(f"Cannot create {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"Cannot create {path}: {parent} is not writable")


class _FileStore(Store):
    kind = ""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.spec = f"{self.kind}:{path}"

    @property
    def location(self) -> str:
        return str(self.path)

    def _target(self) -> Path:
        # Write through a symlink to its target rather than replacing the link with a file.
        return Path(os.path.realpath(self.path))

    def _read_text(self) -> str | None:
        try:
            return self._target().read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"Cannot read {self.path}: {one_line(exc)}") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[Path]:
        """Serialise writers (other htx-keys runs) on a sibling .lock file; yields the target."""
        target = self._target()
        with file_lock(target.with_name(target.name + ".lock"), error=StoreError):
            yield target

    def _write(self, target: Path, text: str) -> None:
        try:
            atomic_write(target, text.encode("utf-8"))
        except OSError as exc:
            raise StoreError(f"Cannot write {self.path}: {one_line(exc)}") from None


class JsonStore(_FileStore):
    """A JSON list of records; appended to, never overwritten."""

    kind = "json"

    def _records(self) -> builtins.list[KeyRecord]:
        text = self._read_text()
        if text is None or not text.strip():
            return []
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise StoreError(f"{self.path} is not valid JSON ({exc})") from None
        if not isinstance(data, list):
            raise StoreError(f"{self.path} does not hold a JSON list of key records")
        records = []
        for number, item in enumerate(data, start=1):
            try:
                records.append(KeyRecord.from_dict(item))
            except ValueError as exc:
                raise StoreError(f"{self.path}: record {number}: {exc}") from None
        return records

    def check(self) -> None:
        _check_writable(self.path)
        self._records()

    def save(self, record: KeyRecord) -> str:
        REDACTOR.add(record.secret_key, label="secret key")
        with self._locked() as target:
            records = self._records()
            if any(r.access_key == record.access_key for r in records):
                raise StoreError(f"{self.path} already holds key {short(record.access_key)}")
            data = [r.to_dict() for r in [*records, record]]
            self._write(target, json.dumps(data, indent=2) + "\n")
        return self._verify(record)

    def load(self, access_key: str) -> KeyRecord:
        for record in self._records():
            if record.access_key == access_key:
                REDACTOR.add(record.secret_key, label="secret key")
                return record
        raise StoreError(f"No key {short(access_key)} in {self.path}")

    def list(self) -> builtins.list[KeyRecord]:
        records = self._records()
        for record in records:
            REDACTOR.add(record.secret_key, label="secret key")
        return records

    def delete(self, access_key: str) -> None:
        with self._locked() as target:
            records = self._records()
            kept = [r for r in records if r.access_key != access_key]
            if len(kept) == len(records):
                raise StoreError(f"No key {short(access_key)} in {self.path}")
            self._write(target, json.dumps([r.to_dict() for r in kept], indent=2) + "\n")


# --- .env files -----------------------------------------------------------------------------

ACCESS_VAR, SECRET_VAR = "HTX_ACCESS_KEY", "HTX_SECRET_KEY"
_HEADER = "# --- HTX API key, written by htx-keys ---"
_ASSIGNMENT = re.compile(rf"^\s*(?:export\s+)?({ACCESS_VAR}|{SECRET_VAR})\s*=")
_FIELD = re.compile(r"^#\s*([a-z ]+):\s?(.*)$")
_UNQUOTED = re.compile(r"^[A-Za-z0-9._~+/=:@-]+$")  # safe in a .env value without quotes
# header label -> record field; comments hold everything but the secret, for humans and load()
_FIELDS = {
    "note": "note",
    "account": "account",
    "permissions": "permissions",
    "ip addresses": "ip_addresses",
    "created": "created_at",
    "expires": "expires_at",
    "site": "site",
}


_SUB_USER = "sub user"  # written only for sub-user keys
_LEASE = "lease until"  # written only for keys with a lease


def _plain(text: str) -> bool:
    """A value that reads back as itself when written bare into a comment."""
    return (
        text == text.strip()
        and text.isprintable()
        and text not in ("", "none")
        and not text.startswith(('"', "[", "never"))
    )


def _encode(value: str | builtins.list[str] | None) -> str:
    if value is None:
        return "never (IP addresses bound, or read-only)"
    if isinstance(value, str):
        return value if _plain(value) else json.dumps(value)
    if not value:
        return "none"
    if all(_plain(v) and "," not in v for v in value):
        return ", ".join(value)
    return json.dumps(value)


def _decode(text: str, as_list: bool) -> str | builtins.list[str] | None:
    if text.startswith(('"', "[")):
        value: str | builtins.list[str] = json.loads(text)
        return value
    if text.startswith("never"):
        return None
    if as_list:
        return [] if text == "none" else [v.strip() for v in text.split(",")]
    return text


class EnvFileStore(_FileStore):
    """One key per .env file, as HTX_ACCESS_KEY/HTX_SECRET_KEY under a commented header.

    The names differ from the tool's own login settings (HTX_EMAIL, HTX_PASSWORD...) so the
    file can be the same .env; its other lines are kept.
    """

    kind = "env-file"

    def _values(self, text: str) -> dict[str, str | None]:
        return dotenv.dotenv_values(stream=io.StringIO(text), interpolate=False)

    def _refuse_if_taken(self, text: str | None) -> None:
        values = self._values(text or "")
        if values.get(ACCESS_VAR):
            raise InputError(
                f"{self.path} already holds API key {short(values[ACCESS_VAR] or '')}; "
                "choose another file or remove that key first"
            )
        if values.get(SECRET_VAR):
            raise InputError(
                f"{self.path} already holds {SECRET_VAR} without {ACCESS_VAR}; "
                "choose another file or remove it first"
            )

    def check(self) -> None:
        _check_writable(self.path)
        self._refuse_if_taken(self._read_text())

    def _block(self, record: KeyRecord) -> str:
        for value in (record.access_key, record.secret_key):
            if not _UNQUOTED.match(value):
                raise StoreError("The key holds characters this tool will not write to a .env file")
        lines = [_HEADER]
        for label, name in _FIELDS.items():
            lines.append(f"# {label}: {_encode(getattr(record, name))}")
        if record.sub_uid is not None:
            lines.append(f"# {_SUB_USER}: {record.sub_uid}")
        if record.lease_until is not None:
            lines.append(f"# {_LEASE}: {_encode(record.lease_until)}")
        lines += [f"{ACCESS_VAR}={record.access_key}", f"{SECRET_VAR}={record.secret_key}"]
        return "\n".join(lines) + "\n"

    def save(self, record: KeyRecord) -> str:
        REDACTOR.add(record.secret_key, label="secret key")
        block = self._block(record)
        with self._locked() as target:
            text = self._read_text()
            try:
                self._refuse_if_taken(text)
            except InputError as exc:
                raise StoreError(str(exc)) from None
            # Empty placeholders (copied from .env.example) give way to the real key.
            kept = self._without_key(text or "")
            self._write(target, f"{kept}\n\n{block}" if kept else block)
        return self._verify(record)

    def _without_key(self, text: str) -> str:
        """text minus the key's assignments and the header block, other lines untouched."""
        kept: builtins.list[str] = []
        in_header = False
        for line in text.splitlines():
            if line.strip() == _HEADER:
                in_header = True
                continue
            match = _FIELD.match(line.strip())
            if in_header and match and (match.group(1) in (*_FIELDS, _SUB_USER, _LEASE)):
                continue
            in_header = False
            if not _ASSIGNMENT.match(line):
                kept.append(line)
        return "\n".join(kept).rstrip()

    def _parse(self) -> KeyRecord | None:
        text = self._read_text()
        values = self._values(text or "")
        access_key = values.get(ACCESS_VAR)
        if not text or not access_key:
            return None
        fields: dict[str, Any] = {"access_key": access_key, "secret_key": values.get(SECRET_VAR)}
        in_header = False
        for line in text.splitlines():
            if line.strip() == _HEADER:
                in_header = True
                continue
            match = _FIELD.match(line.strip()) if in_header else None
            if match and match.group(1) == _SUB_USER and match.group(2).strip().isdigit():
                fields["sub_uid"] = int(match.group(2))
                continue
            if match and match.group(1) == _LEASE:
                fields["lease_until"] = _decode(match.group(2), False)
                continue
            if not match or match.group(1) not in _FIELDS:
                in_header = False
                continue
            name = _FIELDS[match.group(1)]
            try:
                fields[name] = _decode(match.group(2), name in ("permissions", "ip_addresses"))
            except ValueError:
                raise StoreError(f"{self.path}: the '{match.group(1)}' line is malformed") from None
        try:
            record = KeyRecord.from_dict(fields)
        except ValueError as exc:
            raise StoreError(f"{self.path}: {exc} (no htx-keys header?)") from None
        REDACTOR.add(record.secret_key, label="secret key")
        return record

    def load(self, access_key: str) -> KeyRecord:
        record = self._parse()
        if record is None or record.access_key != access_key:
            raise StoreError(f"No key {short(access_key)} in {self.path}")
        return record

    def list(self) -> builtins.list[KeyRecord]:
        record = self._parse()
        return [] if record is None else [record]

    def list_all(self) -> builtins.list[KeyRecord]:
        """As list(), but a key block without its access key (the header or the secret left
        behind) is an error, not "no key"."""
        records = self.list()
        text = self._read_text() or ""
        if not records and (_HEADER in text or self._values(text).get(SECRET_VAR)):
            raise StoreError(f"{self.path} holds a key block without {ACCESS_VAR}")
        return records

    def delete(self, access_key: str) -> None:
        with self._locked() as target:
            self.load(access_key)
            kept = self._without_key(self._read_text() or "")
            if kept:
                self._write(target, kept + "\n")
            else:
                target.unlink()


# --- last resort ----------------------------------------------------------------------------


def rescue_save(record: KeyRecord, directory: Path) -> Path:
    """Keep a created key whose store failed: a new 0600 file in directory (made 0700).

    The file holds a one-record JSON list, so `--store json:<that file>` can read it.
    """
    REDACTOR.add(record.secret_key, label="secret key")
    directory = Path(directory).expanduser().absolute()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tag = re.sub(r"[^A-Za-z0-9_-]", "_", record.access_key[:8])
    data = (json.dumps([record.to_dict()], indent=2) + "\n").encode("utf-8")
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(directory, 0o700)
        for attempt in range(100):
            suffix = f"-{attempt}" if attempt else ""
            path = directory / f"rescue-{stamp}-{tag}{suffix}.json"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # never overwrite an earlier rescue
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            fsync_dir(directory)
            return path
    except OSError as exc:
        raise StoreError(f"Cannot write a rescue file in {directory}: {one_line(exc)}") from None
    raise StoreError(f"Cannot write a rescue file in {directory}: too many files named alike")
