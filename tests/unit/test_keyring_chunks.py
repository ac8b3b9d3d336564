"""Long keyring values against a backend that, like Windows Credential Manager, refuses more
than 2560 bytes of UTF-16 per entry: the key store's index, a saved session, account secrets."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError, PasswordSetError

from automation import accounts
from automation.errors import StoreError
from automation.keyring_chunks import (
    CHUNK_UNITS,
    PREFIX,
    ChunkError,
    delete_long,
    read_long,
    split_units,
    write_long,
)
from automation.session import SESSION_SERVICE, KeyringSession
from automation.store import INDEX_ENTRY, KeyRecord, KeyringStore

WINDOWS_BLOB_LIMIT = 2560  # CRED_MAX_CREDENTIAL_BLOB_SIZE


class SmallKeyring(KeyringBackend):
    """Entries of at most 2560 bytes as UTF-16, as keyring's Windows backend writes them."""

    priority = -1  # never chosen by keyring's own detection

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.sets = 0

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if len(password.encode("utf-16-le")) > WINDOWS_BLOB_LIMIT:
            raise PasswordSetError("The stub received bad data (CredWrite, error 1783)")
        self.sets += 1
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError("Element not found")


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallKeyring]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    previous = keyring.get_keyring()
    backend = SmallKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def names(backend: SmallKeyring, service: str) -> list[str]:
    return sorted(user for svc, user in backend.entries if svc == service)


def test_split_units_counts_utf16_and_keeps_characters_whole() -> None:
    assert split_units("abcdef", 4) == ["abcd", "ef"]
    assert split_units("", 4) == [""]
    # An emoji is two UTF-16 units: it goes whole into the next part.
    assert split_units("abc\U0001f511d", 4) == ["abc", "\U0001f511d"]
    text = "é\U0001f511x" * 700
    parts = split_units(text)
    assert "".join(parts) == text
    assert all(len(p.encode("utf-16-le")) <= 2 * CHUNK_UNITS for p in parts)


def test_short_values_stay_one_plain_entry(small: SmallKeyring) -> None:
    write_long("svc", "alice/password", "hunter2-long-enough")
    assert small.entries == {("svc", "alice/password"): "hunter2-long-enough"}
    assert read_long("svc", "alice/password") == "hunter2-long-enough"
    assert read_long("svc", "nobody") is None


def test_a_long_value_is_split_read_back_rewritten_and_deleted(small: SmallKeyring) -> None:
    value = "x" * 5000 + "ü" * 10
    write_long("svc", "big", value)
    header = small.entries[("svc", "big")]
    assert header.startswith(PREFIX)
    parts = [n for n in names(small, "svc") if n != "big"]
    assert len(parts) == 6 and all(n.startswith("big#") for n in parts)
    assert read_long("svc", "big") == value
    # A rewrite leaves only its own parts; a short value none.
    write_long("svc", "big", "y" * 2500)
    assert read_long("svc", "big") == "y" * 2500
    assert len(names(small, "svc")) == 1 + 3
    write_long("svc", "big", "short")
    assert names(small, "svc") == ["big"]
    write_long("svc", "big", value)
    delete_long("svc", "big")
    assert names(small, "svc") == []
    with pytest.raises(PasswordDeleteError):
        delete_long("svc", "big")


def test_a_value_that_looks_like_a_header_is_stored_split(small: SmallKeyring) -> None:
    tricky = PREFIX + "not a header"
    write_long("svc", "odd", tricky)
    assert read_long("svc", "odd") == tricky


def test_missing_or_foreign_parts_are_an_error_not_a_wrong_value(small: SmallKeyring) -> None:
    write_long("svc", "big", "z" * 3000)
    part = next(n for n in names(small, "svc") if n.endswith(".1"))
    small.entries[("svc", part)] = "q" * 1000
    with pytest.raises(ChunkError, match="do not match its header"):
        read_long("svc", "big")
    del small.entries[("svc", part)]
    with pytest.raises(ChunkError, match=r"^1 of the 3 parts of 'big' are missing$"):
        read_long("svc", "big")
    small.entries[("svc", "big")] = PREFIX + "garbage"
    with pytest.raises(KeyringError, match="header is damaged"):
        read_long("svc", "big")


def make_record(n: int) -> KeyRecord:
    return KeyRecord(
        access_key=f"ak{n:06d}-1a2b3c4d-5e6f7a8b-9c0d1e2f",
        secret_key=f"sk{n:06d}-aaaabbbb-ccccdddd-eeeeffff",
        account="alice@example.test",
        note=f"bot {n}",
        permissions=["read", "trade"],
        ip_addresses=[f"2001:db8::{i:x}" for i in range(20)],  # HTX allows 20 per key
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
        site="https://www.htx.com",
    )


def test_keyring_store_index_outgrows_one_windows_entry(small: SmallKeyring) -> None:
    store = KeyringStore("svc")
    records = [make_record(n) for n in range(80)]
    for record in records:
        store.save(record)
    assert len(json.dumps([r.access_key for r in records]).encode("utf-16-le")) > 2560
    assert small.entries[("svc", INDEX_ENTRY)].startswith(PREFIX)
    assert store.list() == records
    store.delete(records[3].access_key)
    assert store.list_all() == records[:3] + records[4:]
    with pytest.raises(StoreError, match="cannot be named"):
        store.save(dataclasses.replace(make_record(1), access_key="x#0a1b2c3d.0"))


def test_a_saved_session_outgrows_one_windows_entry(small: SmallKeyring) -> None:
    state = {
        "cookies": [
            {"name": f"c{n}", "value": f"v{n:04d}" * 20, "domain": "www.htx.com", "path": "/"}
            for n in range(60)
        ],
        "origins": [],
    }
    session = KeyringSession("https://www.htx.com", "alice@example.test")
    session.save(state)
    assert len(names(small, SESSION_SERVICE)) > 3
    assert KeyringSession("https://www.htx.com", "alice@example.test").load() == state
    session.delete()
    assert names(small, SESSION_SERVICE) == []


def test_a_long_account_secret_outgrows_one_windows_entry(small: SmallKeyring) -> None:
    token = "M.C5" + "r3fr3sh" * 400  # Microsoft refresh tokens run to kilobytes
    accounts.store_secret("main", "password", token)
    assert accounts.stored_secret("main", "password") == token
    assert accounts.read_secrets("main", {}).values["password"] == token
    assert accounts.delete_secret("main", "password") is True
    assert names(small, accounts.ACCOUNTS_SERVICE) == []
