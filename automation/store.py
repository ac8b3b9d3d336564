"""Where captured keys go: the OS keyring (default), a JSON file or a .env file.

HTX shows a secret key once. So a store is checked before any browser starts (check()),
every save is read back and compared, nothing is ever overwritten silently, and when the
chosen store still fails after the key exists, rescue_save() keeps the pair in a 0600 file.
"""

from __future__ import annotations

import os
from pathlib import Path

from automation.errors import InputError
from automation.store_base import (
    DEFAULT_SERVICE,
    INDEX_ENTRY,
    KeyRecord,
    Store,
    short,
)
from automation.store_files import EnvFileStore, JsonStore, rescue_save
from automation.store_keyring import KeyringStore, keyring_usable

__all__ = [
    "DEFAULT_SERVICE",
    "INDEX_ENTRY",
    "EnvFileStore",
    "JsonStore",
    "KeyRecord",
    "KeyringStore",
    "Store",
    "keyring_usable",
    "open_store",
    "rescue_save",
    "short",
]


def open_store(spec: str) -> Store:
    kind, sep, arg = spec.strip().partition(":")
    if kind == "keyring":
        if sep and not arg.strip():
            raise InputError("Store 'keyring:' needs a service name: keyring:SERVICE")
        return KeyringStore(arg.strip() or DEFAULT_SERVICE)
    if kind in ("json", "env-file"):
        if not arg.strip():
            raise InputError(f"Store '{spec}' needs a path: {kind}:PATH")
        path = Path(os.path.abspath(Path(arg.strip()).expanduser()))
        return JsonStore(path) if kind == "json" else EnvFileStore(path)
    raise InputError(f"Unknown store '{spec}': use keyring, json:PATH or env-file:PATH")
