"""Long values split over several entries of a real gnome-keyring: the key store's index (as
Windows Credential Manager needs it) and a saved session, checked part by part with secret-tool."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from automation.keyring_chunks import PREFIX, split_units
from automation.session import KeyringSession
from automation.store import INDEX_ENTRY, KeyRecord, open_store
from tests.support.keyring_env import (  # noqa: F401  (pytest fixtures)
    keyring_service,
    secret_service,
    secret_tool_lookup,
)

pytestmark = [pytest.mark.e2e, pytest.mark.cost(5)]

ROOT = Path(__file__).resolve().parents[2]
KEYS = 40  # their index is about 3.1 KB as UTF-16: more than one Windows credential holds


def make_record(n: int) -> KeyRecord:
    return KeyRecord(
        access_key=f"chunk{n:05d}-1a2b3c4d-5e6f7a8b-9c0d1",
        secret_key=f"csec{n:05d}-aaaabbbb-ccccdddd-eeee1",
        account="alice@example.test",
        note=f"chunked bot {n}",
        permissions=["read"],
        ip_addresses=["203.0.113.7"],
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
        site="http://127.0.0.1:8000",
    )


def parts_of(service: str, username: str) -> str:
    """The value of a split entry put together from secret-tool's answers alone."""
    header = secret_tool_lookup(service, username)
    assert header is not None and header.startswith(PREFIX)
    match = re.fullmatch(re.escape(PREFIX) + r"([0-9a-f]{8}):(\d+):[0-9a-f]{64}", header)
    assert match, header
    pieces = [
        secret_tool_lookup(service, f"{username}#{match[1]}.{n}") for n in range(int(match[2]))
    ]
    assert None not in pieces
    return "".join(p for p in pieces if p is not None)


def test_a_long_index_in_gnome_keyring(
    secret_service: KeyringBackend,  # noqa: F811
    keyring_service: str,  # noqa: F811
) -> None:
    store = open_store(f"keyring:{keyring_service}")
    store.check()
    records = [make_record(n) for n in range(KEYS)]
    for record in records:
        store.save(record)
    index = parts_of(keyring_service, INDEX_ENTRY)
    assert json.loads(index) == [r.access_key for r in records]
    assert len(split_units(index)) == 2

    # Another process, as the next run of the tool, reads the whole index back.
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from automation.store import open_store; "
            "print(len(open_store(sys.argv[1]).list()))",
            f"keyring:{keyring_service}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert listed.stdout.strip() == str(KEYS)

    for record in records[: KEYS - 2]:
        store.delete(record.access_key)
    # Short again: one plain entry, and the parts of the long one are gone.
    assert json.loads(secret_tool_lookup(keyring_service, INDEX_ENTRY) or "") == [
        r.access_key for r in records[KEYS - 2 :]
    ]
    assert store.list() == records[KEYS - 2 :]


def test_a_long_session_in_gnome_keyring(
    secret_service: KeyringBackend,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    keyring_service: str,  # noqa: F811
) -> None:
    monkeypatch.setattr("automation.session.SESSION_SERVICE", keyring_service)
    state = {
        "cookies": [
            {"name": f"pref{n}", "value": "en-us", "domain": "127.0.0.1", "path": "/"}
            for n in range(150)
        ],
        "origins": [],
    }
    session = KeyringSession("http://127.0.0.1:8000", "alice@example.test")
    session.save(state)
    assert json.loads(parts_of(keyring_service, session.entry)) == state
    assert KeyringSession("http://127.0.0.1:8000", "alice@example.test").load() == state
    session.delete()
    assert secret_tool_lookup(keyring_service, session.entry) is None
