"""Where captured keys go: the OS keyring (default), a JSON file or a .env file.

HTX shows a secret key once. So a store is checked before any browser starts (check()),
every save is read back and compared, nothing is ever overwritten silently, and when the
chosen store still fails after the key exists, rescue_save() keeps the pair in a 0600 file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.errors import ConfigError, InputError, Interrupted, StoreError
from automation.store_base import (
    DEFAULT_SERVICE,
    INDEX_ENTRY,
    KeyRecord,
    Store,
    short,
)
from automation.store_files import EnvFileStore, JsonStore, rescue_save

if TYPE_CHECKING:
    from automation.store_keyring import KeyringStore, keyring_usable

__all__ = [
    "DEFAULT_SERVICE",
    "INDEX_ENTRY",
    "EnvFileStore",
    "JsonStore",
    "KeyRecord",
    "KeyringStore",
    "Store",
    "announce_and_store",
    "check_store",
    "keyring_usable",
    "open_store",
    "rescue_save",
    "save_or_rescue",
    "short",
]


def __getattr__(name: str) -> Any:
    """KeyringStore and keyring_usable, imported when first asked for: the keyring package
    takes a noticeable part of a second to import, and a run that stores in a file and
    keeps no session in the keyring never needs it."""
    if name in ("KeyringStore", "keyring_usable"):
        from automation import store_keyring

        return getattr(store_keyring, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(spec: str, state_dir: Path | None = None) -> Store:
    """The store a --store value names. A keyring store keeps its index's lock file in
    `state_dir` (default: the default state dir), where every run using it must find it."""
    kind, sep, arg = spec.strip().partition(":")
    if kind == "keyring":
        if sep and not arg.strip():
            raise InputError("Store 'keyring:' needs a service name: keyring:SERVICE")
        from automation.store_keyring import KeyringStore

        return KeyringStore(arg.strip() or DEFAULT_SERVICE, lock_dir=state_dir)
    if kind in ("json", "env-file"):
        if not arg.strip():
            raise InputError(f"Store '{spec}' needs a path: {kind}:PATH")
        path = Path(os.path.abspath(Path(arg.strip()).expanduser()))
        return JsonStore(path) if kind == "json" else EnvFileStore(path)
    raise InputError(f"Unknown store '{spec}': use keyring, json:PATH or env-file:PATH")


def check_store(store: Store) -> None:
    """Preflight: a store that cannot take a key is a setting to fix (exit 3), found before
    anything is created; exit 8 stays for "created, but not stored"."""
    try:
        store.check()
    except StoreError as exc:
        raise ConfigError(exc.message, hint=exc.hint) from None


def announce_and_store(
    store: Store,
    record: KeyRecord,
    rescue_dir: Path,
    on_key: Callable[[KeyRecord], None] | None = None,
) -> str:
    """The moment a pair exists on the exchange: tell `on_key` (CI masks it, a caller learns
    that a key exists), then store it, or rescue it if that fails. The pair is stored
    whatever `on_key` does; an error of `on_key` is raised after that."""
    try:
        if on_key is not None:
            on_key(record)
    finally:
        stored_in = save_or_rescue(store, record, rescue_dir)
    return stored_in


def save_or_rescue(store: Store, record: KeyRecord, rescue_dir: Path) -> str:
    """Store a key that now exists on the exchange; if that fails, keep it in a rescue file.

    The secret is shown once, so a failed store must not lose it: the pair goes to a 0600
    file first and the error says where.
    """
    try:
        return store.save(record)
    except BaseException as exc:
        try:
            path = rescue_save(record, rescue_dir)
        except StoreError as rescue_exc:
            raise StoreError(
                f"Key {record.access_key} was created but neither stored ({exc}) nor saved to "
                f"a rescue file ({rescue_exc}); delete it on HTX",
            ) from None
        if not isinstance(exc, Exception):
            raise Interrupted(
                f"Interrupted while storing key {record.access_key}; the pair was saved to "
                f"{path} (mode 0600)"
            ) from None
        raise StoreError(
            f"Key {record.access_key} was created but could not be stored ({exc}); "
            f"the pair was saved to {path} (mode 0600)",
            hint="move it into your store, or delete the key on HTX",
        ) from None
