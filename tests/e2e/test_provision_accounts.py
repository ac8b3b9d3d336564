"""`provision --accounts`: three accounts of one accounts file, two at a time in one browser,
one of them with a wrong IMAP password. One run, shared by the module's tests: each account
is reported on its own, the failing one does not stop the others, and the exit status says
that some failed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.accounts_file import account_secrets, account_table
from tests.support.cli import Run, run_cli
from tests.support.dovecot import Dovecot
from tests.support.site import Site, new_site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(40)]

NAMES = ("carol", "alice", "bob-2")  # carol's IMAP password is wrong


@dataclass
class Batch:
    sites: dict[str, Site]
    run: Run
    rows: list[dict[str, Any]]
    base: Path


@pytest.fixture(scope="module")
def batch(dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    base = tmp_path_factory.mktemp("accounts")
    with ExitStack() as stack:
        sites = {name: new_site(dovecot, stack, base / "state") for name in NAMES}
        stores = {"alice": base / "alice.json", "bob-2": base / "team.json"}
        stores["carol"] = stores["bob-2"]
        config = base / "accounts.toml"
        config.write_text(
            "".join(
                account_table(name, site, store=f"json:{stores[name]}")
                for name, site in sites.items()
            )
        )
        env = {
            "HTX_KEYS_CONFIG": str(config),
            "HTX_KEYS_STATE_DIR": str(base / "state"),
            "HTX_TOTP_PERIOD": str(sites["alice"].totp_step_s),
            "HTX_MAIL_TIMEOUT": "30",
        }
        for name, site in sites.items():
            env.update(account_secrets(name, site))
        env["HTX_IMAP_PASSWORD_CAROL"] = "not-carols-password"
        run = run_cli(
            [
                "provision",
                "--accounts",
                ",".join(NAMES),
                "--jobs",
                "2",
                "--note",
                "batch",
                "--format",
                "json",
            ],
            env,
            cwd=base,
        )
        print(f"provision --accounts wall time: {run.seconds:.1f} s")
        rows = json.loads(run.stdout) if run.stdout.strip() else []
        yield Batch(sites, run, rows, base)


def test_each_account_is_reported_on_its_own(batch: Batch) -> None:
    run, rows = batch.run, batch.rows
    assert run.returncode == 17, run.explain()
    assert [row["account"] for row in rows] == list(NAMES)  # in the order asked for
    carol, alice, bob = rows
    assert carol["error"] and "IMAP" in carol["error"] and carol["exit_status"] == 6, carol
    assert carol["access_key"] is None and carol["verified"] is None
    for row in (alice, bob):
        assert row["error"] is None and row["exit_status"] == 0, row
        assert row["verified"] is True
        assert row["permissions"] == ["read", "trade"]  # the account's own default
        assert row["note"] == "batch [htx-keys]"
    fields = set(alice) - {"account", "error", "exit_status"}
    assert fields >= {"access_key", "created_at", "expires_at", "stored_in", "read_back"}
    last = run.stderr.strip().splitlines()[-1]
    assert last == "htx-keys: error: 1 of 3 accounts failed: carol (exit 6)", run.explain()


def test_keys_are_on_each_site_and_in_each_accounts_store(batch: Batch) -> None:
    rows = {row["account"]: row for row in batch.rows}
    assert batch.sites["carol"].server.state.keys_for(batch.sites["carol"].account.email) == []
    for name, store in (("alice", "alice.json"), ("bob-2", "team.json")):
        site = batch.sites[name]
        (key,) = site.server.state.keys_for(site.account.email)
        assert key.access_key == rows[name]["access_key"]
        assert rows[name]["stored_in"] == str(batch.base / store)
        records = json.loads((batch.base / store).read_text())
        assert [r["access_key"] for r in records] == [key.access_key]
        assert records[0]["account"] == site.account.email


def test_one_browser_and_the_accounts_overlap(batch: Batch) -> None:
    lines = batch.run.stderr.splitlines()
    assert sum("one browser for 3 accounts" in line for line in lines) == 3, batch.run.explain()
    owners = [m.group(1) for line in lines if (m := re.match(r"\[([\w-]+)\] ", line))]
    assert set(owners) == set(NAMES)
    # While alice was running (between her first and last line), bob's flow made progress.
    first, last = owners.index("alice"), len(owners) - 1 - owners[::-1].index("alice")
    assert "bob-2" in owners[first:last], batch.run.explain()
