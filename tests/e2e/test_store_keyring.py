"""The keyring store against a real gnome-keyring, checked independently with secret-tool."""

from __future__ import annotations

import json

import pytest
from keyring.backend import KeyringBackend

from automation.errors import StoreError
from automation.store import INDEX_ENTRY, KeyRecord, KeyringStore, keyring_usable, open_store
from tests.support.keyring_env import (  # noqa: F401  (pytest fixtures)
    keyring_service,
    secret_service,
    secret_tool_lookup,
)

pytestmark = pytest.mark.e2e


def make_record(n: int) -> KeyRecord:
    return KeyRecord(
        access_key=f"e2e{n:05d}-1a2b3c4d-5e6f7a8b-9c0d1",
        secret_key=f"sec{n:05d}-aaaabbbb-ccccdddd-eeee1",
        account="alice@example.test",
        note=f"e2e bot {n}",
        permissions=["read", "trade"],
        ip_addresses=["203.0.113.7"],
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
        site="http://127.0.0.1:8000",
    )


def test_keyring_store_in_gnome_keyring(
    secret_service: KeyringBackend,  # noqa: F811  (the fixture imported above)
    keyring_service: str,  # noqa: F811
) -> None:
    store = open_store(f"keyring:{keyring_service}")
    assert isinstance(store, KeyringStore)
    assert keyring_usable(keyring_service) == (True, "")
    store.check()

    first, second = make_record(1), make_record(2)
    assert store.save(first) == f"keyring (service {keyring_service})"
    store.save(second)

    # The entries are in the Secret Service itself, not in whatever keyring chose to use.
    stored = secret_tool_lookup(keyring_service, first.access_key)
    assert stored is not None
    assert KeyRecord.from_dict(json.loads(stored)) == first
    index = secret_tool_lookup(keyring_service, INDEX_ENTRY)
    assert index is not None
    assert json.loads(index) == [first.access_key, second.access_key]

    assert store.load(second.access_key) == second
    assert store.list() == [first, second]
    with pytest.raises(StoreError, match="already holds key"):
        store.save(first)

    store.delete(first.access_key)
    assert secret_tool_lookup(keyring_service, first.access_key) is None
    assert store.list() == [second]
    with pytest.raises(StoreError, match=r"^No key e2e00001… in keyring"):
        store.load(first.access_key)

    # A second store object (a later run) sees the same keys through the index.
    assert open_store(f"keyring:{keyring_service}").list() == [second]
