"""The keyring store against a real gnome-keyring, checked independently with secret-tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from automation.errors import StoreError
from automation.store import INDEX_ENTRY, KeyRecord, KeyringStore, keyring_usable, open_store
from tests.support.keyring_env import (  # noqa: F401  (pytest fixtures)
    keyring_service,
    secret_service,
    secret_tool_lookup,
)

pytestmark = [pytest.mark.e2e, pytest.mark.cost(10)]

ROOT = Path(__file__).resolve().parents[2]
SAVERS = 8
# One run of the tool saving one key: the record comes on stdin (it holds a secret), and the
# save waits for the "go" file, so that all the runs save at the same moment.
SAVER = """
import json, sys, time
from pathlib import Path
from automation.store import KeyRecord, open_store

spec, ready, go = sys.argv[1:]
record = KeyRecord.from_dict(json.loads(sys.stdin.read()))
store = open_store(spec)
store.check()  # the keyring's backend loaded, its D-Bus session open: ready to save
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.001)
store.save(record)
"""


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


def errors(proc: subprocess.Popen[str]) -> str:
    """The last line a finished saver wrote to stderr (its error)."""
    assert proc.stderr is not None
    lines = proc.stderr.read().strip().splitlines()
    return lines[-1] if lines else "(nothing on stderr)"


def test_processes_saving_to_one_service_at_once_lose_no_key(
    secret_service: KeyringBackend,  # noqa: F811
    keyring_service: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """8 runs save to one keyring service at the same moment: all succeed, all are listed."""
    spec = f"keyring:{keyring_service}"
    # The default state dir, where the index's lock file goes, made private to the test.
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    go = tmp_path / "go"
    records = [make_record(n) for n in range(1, SAVERS + 1)]
    savers = []
    for n, record in enumerate(records, start=1):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, spec, str(tmp_path / f"ready-{n}"), str(go)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(record.to_dict()))
        proc.stdin.close()
        savers.append(proc)
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready-{n}").exists() for n in range(1, SAVERS + 1)):
            failed = [p for p in savers if p.poll() not in (None, 0)]
            assert not failed, errors(failed[0])
            assert time.monotonic() < deadline, "the savers did not get ready in 120 s"
            time.sleep(0.01)
        go.touch()
        started = time.monotonic()
        for proc in savers:
            proc.wait(timeout=120)
        print(
            f"{SAVERS} concurrent saves to one keyring service: {time.monotonic() - started:.2f} s"
        )
    finally:
        for proc in savers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    failures = [
        f"saver {n}: exit {p.returncode}: {errors(p)}"
        for n, p in enumerate(savers, start=1)
        if p.returncode != 0
    ]
    assert not failures, "\n".join(failures)

    wanted = sorted(r.access_key for r in records)
    index = secret_tool_lookup(keyring_service, INDEX_ENTRY)
    assert index is not None and sorted(json.loads(index)) == wanted
    listed = open_store(spec).list()
    assert sorted(r.access_key for r in listed) == wanted
    assert sorted(listed, key=lambda r: r.access_key) == records
    # The lock file is the state dir's, named after the service; it holds nothing.
    lock = tmp_path / "state" / "htx-keys" / f"keyring-{keyring_service}.lock"
    assert lock.is_file() and lock.stat().st_size == 0
    assert lock.stat().st_mode & 0o777 == 0o600
