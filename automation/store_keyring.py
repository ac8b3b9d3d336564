"""The OS keyring store: one entry per key, plus an index entry (keyring cannot list).

Both may outgrow what one entry holds on Windows: they go through automation.keyring_chunks.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import json
import re
import secrets
import threading
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
from keyring.backend import KeyringBackend

from automation.config import default_state_dir
from automation.errors import StoreError
from automation.keyring_chunks import delete_long, is_part_name, read_long, write_long
from automation.locks import file_lock
from automation.redaction import REDACTOR
from automation.store_base import (
    DEFAULT_SERVICE,
    INDEX_ENTRY,
    PROBE_TIMEOUT,
    KeyRecord,
    Store,
    one_line,
    short,
)


def _name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _unacceptable(backend: KeyringBackend) -> str | None:
    """Why this backend is no home for a secret, or None when it is one."""
    if isinstance(backend, keyring.backends.fail.Keyring):
        return f"keyring found no backend ({_name(backend)})"
    if isinstance(backend, keyring.backends.null.Keyring):
        return f"keyring is disabled ({_name(backend)})"
    module = type(backend).__module__
    if module.startswith("keyrings.alt") and "plaintext" in _name(backend).lower():
        return f"{_name(backend)} keeps secrets in a plaintext file"
    return None


def keyring_usable(service: str = DEFAULT_SERVICE) -> tuple[bool, str]:
    """(True, "") when the active keyring backend really stores and returns a secret."""
    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        return False, f"keyring could not load a backend: {one_line(exc)}"
    target = backend
    if isinstance(backend, keyring.backends.chainer.ChainerBackend):
        chained = builtins.list(backend.backends)
        if not chained:
            return False, f"keyring found no backend ({_name(backend)} with nothing behind it)"
        target = chained[0]  # the chainer writes to the first backend that accepts
    reason = _unacceptable(target)
    if reason:
        return False, reason
    outcome: builtins.list[tuple[bool, str]] = []

    def probe() -> None:
        entry, value = f"htx-keys-probe-{secrets.token_hex(4)}", secrets.token_hex(16)
        try:
            backend.set_password(service, entry, value)
            try:
                read = backend.get_password(service, entry)
            finally:
                backend.delete_password(service, entry)
            if read != value:
                outcome.append((False, f"{_name(target)} returned something else than was set"))
            else:
                outcome.append((True, ""))
        except Exception as exc:
            outcome.append((False, f"{_name(target)}: {one_line(exc)}"))

    worker = threading.Thread(target=probe, name="keyring-probe", daemon=True)
    worker.start()
    worker.join(PROBE_TIMEOUT)
    if not outcome:
        return False, (
            f"{_name(target)} did not answer within {PROBE_TIMEOUT:g} s "
            "(locked, waiting for a password prompt?)"
        )
    return outcome[0]


# A keyring answers over D-Bus (or its platform's equivalent), and the section under the lock
# is five calls of it: wait longer than for a file.
KEYRING_LOCK_TIMEOUT = 30.0


def lock_file_name(service: str) -> str:
    """The lock file of a service's index: its name, made safe for every file system."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", service)[:64]
    if safe != service:  # two services must not share a file because they read alike
        safe += "-" + hashlib.sha256(service.encode("utf-8")).hexdigest()[:8]
    return f"keyring-{safe}.lock"


class KeyringStore(Store):
    """Entry (service, access_key) holds the record as JSON; (service, "index") lists keys.

    keyring has no transactions, so every change of the index happens under a lock file in
    the state dir named after the service: runs that share the service (and the state dir,
    as they do by default) never lose each other's index entries.
    """

    def __init__(self, service: str = DEFAULT_SERVICE, lock_dir: Path | None = None) -> None:
        self.service = service
        self.spec = "keyring" if service == DEFAULT_SERVICE else f"keyring:{service}"
        self.lock_file = Path(lock_dir or default_state_dir()) / lock_file_name(service)

    @property
    def location(self) -> str:
        return f"keyring (service {self.service})"

    def _call(self, action: str, fn: Any, *args: str) -> Any:
        try:
            return fn(self.service, *args)
        except Exception as exc:
            raise StoreError(
                f"Keyring ({self.service}) failed to {action}: {one_line(exc)}"
            ) from exc

    def _index(self) -> builtins.list[str]:
        raw = self._call("read the index", read_long, INDEX_ENTRY)
        if raw is None:
            return []
        try:
            keys = json.loads(raw)
        except ValueError:
            keys = None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise StoreError(
                f"The index entry of {self.location} is not a JSON list of access keys",
                hint=f"remove it: secret-tool clear service {self.service} username {INDEX_ENTRY}",
            )
        return keys

    def _write_index(self, keys: builtins.list[str]) -> None:
        self._call("update the index", write_long, INDEX_ENTRY, json.dumps(keys))

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.lock_file, timeout=KEYRING_LOCK_TIMEOUT, error=StoreError)

    def check(self) -> None:
        ok, reason = keyring_usable(self.service)
        if not ok:
            raise StoreError(
                f"No usable OS keyring ({reason}); use --store json:PATH or run a Secret Service",
                hint="on a headless Linux box run the tool inside dbus-run-session with "
                "gnome-keyring-daemon --unlock (see README)",
            )
        self._index()

    def save(self, record: KeyRecord) -> str:
        REDACTOR.add(record.secret_key, label="secret key")
        if record.access_key == INDEX_ENTRY or is_part_name(record.access_key):
            raise StoreError(f"An access key cannot be named '{record.access_key}'")
        with self._locked():
            keys = self._index()
            existing = self._call("read", read_long, record.access_key)
            if record.access_key in keys or existing is not None:
                raise StoreError(
                    f"{self.location} already holds key {short(record.access_key)}; "
                    "not overwriting it"
                )
            payload = json.dumps(record.to_dict())
            self._call("save the key", write_long, record.access_key, payload)
            # If the index update fails the entry stays: a stored secret is worth more than a
            # tidy index, and load() still finds it by access key.
            self._write_index([*keys, record.access_key])
            if record.access_key not in self._index():
                # Only a writer outside the lock can do this: a run with another state dir.
                raise StoreError(
                    f"The index of {self.location} lost key {short(record.access_key)}",
                    hint=f"runs sharing a keyring service must share the state dir, where "
                    f"its lock file is ({self.lock_file})",
                )
        return self._verify(record)

    def load(self, access_key: str) -> KeyRecord:
        raw = self._call("read", read_long, access_key)
        if raw is None or access_key == INDEX_ENTRY or is_part_name(access_key):
            raise StoreError(f"No key {short(access_key)} in {self.location}")
        try:
            record = KeyRecord.from_dict(json.loads(raw))
        except ValueError as exc:
            raise StoreError(f"Key {short(access_key)} in {self.location}: {exc}") from None
        REDACTOR.add(record.secret_key, label="secret key")
        return record

    def list(self) -> builtins.list[KeyRecord]:
        records = []
        for access_key in self._index():
            # An entry removed behind our back (seahorse, secret-tool) leaves a stale index line.
            with contextlib.suppress(StoreError):
                records.append(self.load(access_key))
        return records

    def list_all(self) -> builtins.list[KeyRecord]:
        """Every entry the index names, or StoreError for the first that cannot be read (the
        keyring failed, or the entry is not a key record). An entry removed behind our back
        is skipped: the keyring answered that it holds no such secret."""
        records = []
        for access_key in self._index():
            try:
                raw = self._call("read", read_long, access_key)
            except StoreError as exc:
                raise StoreError(f"Key {short(access_key)}: {exc.message}") from None
            if raw is None:
                continue
            records.append(self.load(access_key))
        return records

    def delete(self, access_key: str) -> None:
        with self._locked():
            self.load(access_key)
            self._call("delete the key", delete_long, access_key)
            keys = self._index()
            if access_key in keys:
                self._write_index([k for k in keys if k != access_key])
