"""The record of a captured key and the interface every store keeps.

HTX shows a secret key once. So a store is checked before any browser starts (check()),
every save is read back and compared, and nothing is ever overwritten silently.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any

from automation.errors import StoreError
from automation.redaction import REDACTOR

DEFAULT_SERVICE = "htx-keys"
INDEX_ENTRY = "index"  # keyring cannot enumerate entries, so the store keeps its own list
PROBE_TIMEOUT = 10.0  # a locked keyring may wait forever for a password prompt nobody sees


def short(access_key: str) -> str:
    """How messages name a key: enough to find it in the web UI, never the whole of it."""
    return f"{access_key[:8]}…"


@dataclass
class KeyRecord:
    access_key: str
    secret_key: str = field(repr=False)  # a repr ends up in logs and tracebacks
    account: str  # login email of the exchange account
    note: str
    permissions: list[str]  # subset of read, trade, withdraw; read always
    ip_addresses: list[str]
    created_at: str  # ISO 8601 UTC, e.g. 2026-11-21T10:00:00Z
    expires_at: str | None  # None: does not expire (bound to IP addresses)
    site: str = ""  # base URL of the site the key was made on
    sub_uid: int | None = None  # set for a sub-user's key (made over REST by the parent)
    # When the key's lease ends (provision --ttl; ISO 8601 UTC), as its note's tag says; None:
    # no lease (`keys reap` never deletes it).
    lease_until: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public_dict(self) -> dict[str, Any]:
        data = self.to_dict()
        del data["secret_key"]
        return data

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KeyRecord:
        """Build from to_dict() output; ValueError (naming fields, never values) if malformed."""
        if not isinstance(d, dict):
            raise ValueError("a key record must be a JSON object")
        optional = ("site", "sub_uid", "lease_until")
        required = [n for n in cls.__dataclass_fields__ if n not in optional]
        missing = [n for n in required if n not in d]
        if missing:
            raise ValueError(f"key record is missing {', '.join(missing)}")
        texts = ["access_key", "secret_key", "account", "note", "created_at", "site"]
        bad = [n for n in texts if not isinstance(d.get(n, ""), str)]
        bad += [
            n
            for n in ("permissions", "ip_addresses")
            if not (isinstance(d[n], list) and all(isinstance(x, str) for x in d[n]))
        ]
        for name in ("expires_at", "lease_until"):
            if d.get(name) is not None and not isinstance(d[name], str):
                bad.append(name)
        sub_uid = d.get("sub_uid")
        if sub_uid is not None and (isinstance(sub_uid, bool) or not isinstance(sub_uid, int)):
            bad.append("sub_uid")
        if bad:
            raise ValueError(f"key record has a malformed {', '.join(bad)}")
        return cls(**{n: d[n] for n in cls.__dataclass_fields__ if n in d})


class Store(ABC):
    spec: str  # the normalised --store value, e.g. "keyring" or "json:/abs/keys.json"

    @property
    @abstractmethod
    def location(self) -> str:
        """Where keys go, for humans: "keyring (service htx-keys)" or an absolute path."""

    @abstractmethod
    def check(self) -> None:
        """Fail (StoreError/InputError, one line) if a save would fail or overwrite a key."""

    @abstractmethod
    def save(self, record: KeyRecord) -> str:
        """Write, read back and compare; returns location."""

    @abstractmethod
    def load(self, access_key: str) -> KeyRecord: ...

    @abstractmethod
    def list(self) -> builtins.list[KeyRecord]: ...

    def list_all(self) -> builtins.list[KeyRecord]:
        """Every key, or a StoreError naming an entry that cannot be read. For decisions that
        delete: list() may pass over what it cannot read, and a key whose entry is unreadable
        must not look like a key that is not held."""
        return self.list()

    @abstractmethod
    def delete(self, access_key: str) -> None: ...

    def _verify(self, record: KeyRecord) -> str:
        try:
            stored = self.load(record.access_key)
        except StoreError as exc:
            raise StoreError(f"Reading key {short(record.access_key)} back failed: {exc}") from exc
        if stored != record:
            raise StoreError(
                f"Key {short(record.access_key)} read back from {self.location} "
                "differs from what was written"
            )
        return self.location

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0][:200] if text else ""
    return REDACTOR.scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
