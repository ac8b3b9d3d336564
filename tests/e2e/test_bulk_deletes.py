"""Safe bulk deletes, for real: `keys reconcile --revoke` and `keys revoke --note N --all`
through Chromium, the sandbox over HTTP, Dovecot over TLS, gnome-keyring and ccxt.

They delete only what they are sure about (an old enough key of the tool whose secret no
readable entry of the store holds), show what they will delete and ask first (`--yes` skips
the question and is required without a terminal), and `--dry-run` deletes nothing. Keys made
"earlier" go straight into the sandbox (tests/support/keys.py), backdated where a test needs
them older than the 10 minutes a key must have before `reconcile` judges it.
"""

from __future__ import annotations

import json
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from automation.store import KeyringStore
from tests.support.cli import run_cli, run_cli_on_terminal
from tests.support.keyring_env import keyring_service  # noqa: F401  (pytest fixture)
from tests.support.keys import (
    assert_no_secrets,
    backdate,
    on_exchange,
    record_of,
    saved_session,
    seed_key,
    seed_sub_key,
    stored,
    sub_keys,
)
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(110)]

BROWSER = "Open the HTX website"  # the first step's title: a browser started
NOT_A_TERMINAL = (
    "htx-keys: error: --revoke asks before deleting and stdin is not a terminal: add --yes "
    "to delete without asking, or --dry-run to see what would be deleted\n"
)


def bulk_env(site: Site, tmp_path: Path, store: str | None = None) -> dict[str, str]:
    session = saved_session(site, tmp_path / "session.json")
    return site.env(
        HTX_KEYS_STORE=store or f"json:{tmp_path / 'keys.json'}",
        HTX_KEYS_SESSION=f"file:{session}",
    )


def test_reconcile_deletes_an_old_orphan_and_leaves_a_young_one_alone(
    htx_site: Site, tmp_path: Path
) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = bulk_env(site, tmp_path)
    signer = seed_key(site, "signer [htx-keys]", store)
    held = seed_key(site, "held [htx-keys]", store)
    # Stored with another spelling of the same site: still this site's keys, and they sign.
    data = json.loads(store.read_text())
    for item in data:
        item["site"] = site.server.base_url.upper() + "/"
    store.write_text(json.dumps(data))
    orphan = seed_key(site, "crashed [htx-keys]")  # the tool died before storing it
    backdate(site, orphan.access_key, 30)
    young = seed_key(site, "just made [htx-keys]")  # another run may be about to store it
    by_hand = seed_key(site, "made by hand")  # not the tool's: never touched

    found = run_cli(["keys", "reconcile", "--format", "json"], env, tmp_path)
    assert found.returncode == 14, found.explain()
    rows = {r["access_key"]: r for r in json.loads(found.stdout)}
    assert {k: r["verdict"] for k, r in rows.items()} == {
        orphan.access_key: "delete",
        young.access_key: "too new to judge",
    }
    assert rows[young.access_key]["why"].endswith("old, under the 10m minimum")
    assert f"signed with {held.access_key[:8]}" in found.stderr and BROWSER not in found.stderr
    assert "1 orphan key(s) on HTX" in found.stderr

    refused = run_cli(["keys", "reconcile", "--revoke"], env, tmp_path)
    assert (refused.returncode, refused.stderr) == (2, NOT_A_TERMINAL), refused.explain()

    dry = run_cli(["keys", "reconcile", "--revoke", "--dry-run"], env, tmp_path)
    assert dry.returncode == 0, dry.explain()
    lines = dry.stdout.splitlines()
    assert lines[0].split() == ["ACCESS", "KEY", "NOTE", "CREATED", "ACTION"]
    plan = {line.split()[0]: line for line in lines[1:]}
    assert plan[orphan.access_key].endswith("delete")
    assert "leave alone: too new to judge" in plan[young.access_key]
    assert BROWSER not in dry.stderr
    assert len(on_exchange(site)) == 5

    # Without an API to read the list from, the page's table gives the ages (held keys
    # tell its time zone), and the orphan is deleted through the website.
    fixed = run_cli(
        ["keys", "reconcile", "--revoke", "--yes", "--api-url", "http://127.0.0.1:9"],
        env,
        tmp_path,
    )
    assert fixed.returncode == 0, fixed.explain()
    assert "reading the keys from the website" in fixed.stderr
    assert f"Revoked orphan {orphan.access_key}" in fixed.stdout
    assert f"Too new to judge {young.access_key}" in fixed.stdout
    assert "ACTION" in fixed.stderr  # the table was shown, on stderr
    assert set(on_exchange(site)) == {
        signer.access_key,
        held.access_key,
        young.access_key,
        by_hand.access_key,
    }
    assert set(stored(store)) == {signer.access_key, held.access_key}
    assert_no_secrets(site, [found, refused, dry, fixed], orphan.secret_key)


def test_revoke_all_shows_and_asks_first(htx_site: Site, tmp_path: Path) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = bulk_env(site, tmp_path)
    signer = seed_key(site, "signer [htx-keys]", store)
    twins = [seed_key(site, "twin [htx-keys]", store) for _ in range(2)]
    solo = seed_key(site, "solo [htx-keys]", store)
    args = ["keys", "revoke", "--note", "twin", "--all"]

    refused = run_cli(args, env, tmp_path)
    assert refused.returncode == 2, refused.explain()
    assert refused.stderr == NOT_A_TERMINAL.replace("--revoke", "--all")

    dry = run_cli([*args, "--dry-run"], env, tmp_path)
    assert dry.returncode == 0, dry.explain()
    assert {line.split()[0] for line in dry.stdout.splitlines()[1:]} == {
        t.access_key for t in twins
    }

    # At a terminal: the table, then the question; "n" deletes nothing.
    declined = run_cli_on_terminal(args, env, tmp_path, cue="ACTION", answer="n")
    assert declined.returncode == 130, declined.explain()
    assert "Delete 2 key(s) on HTX? [y/N]" in declined.stderr
    assert "Not confirmed: nothing was deleted" in declined.stderr
    for run in (refused, dry, declined):
        assert BROWSER not in run.stderr
    assert len(on_exchange(site)) == 4 and len(stored(store)) == 4

    agreed = run_cli_on_terminal(
        ["keys", "revoke", "--note", "solo", "--all"], env, tmp_path, cue="ACTION", answer="y"
    )
    assert agreed.returncode == 0, agreed.explain()
    assert agreed.stdout.strip() == f"Revoked API key {solo.access_key}; removed from {store}"

    yes = run_cli([*args, "--yes"], env, tmp_path)
    assert yes.returncode == 0, yes.explain()
    assert "[y/N]" not in yes.stderr
    assert set(on_exchange(site)) == set(stored(store)) == {signer.access_key}
    assert_no_secrets(
        site,
        [refused, dry, declined, agreed, yes],
        solo.secret_key,
        *(t.secret_key for t in twins),
    )


def test_an_unreadable_store_entry_stops_reconcile_before_anything(
    htx_site: Site,
    tmp_path: Path,
    secret_service: KeyringBackend,
    keyring_service: str,  # noqa: F811
) -> None:
    site = htx_site
    env = bulk_env(site, tmp_path, store=f"keyring:{keyring_service}")
    store = KeyringStore(keyring_service)
    signer = seed_key(site, "signer [htx-keys]")
    victim = seed_key(site, "held but damaged [htx-keys]")
    backdate(site, victim.access_key, 60)
    store.save(record_of(site, signer))
    store.save(record_of(site, victim))
    keyring.set_password(keyring_service, victim.access_key, '{"access_key": "truncated')

    for args in (["keys", "reconcile"], ["keys", "reconcile", "--revoke", "--yes"]):
        run = run_cli(args, env, tmp_path)
        assert run.returncode == 3, run.explain()
        assert run.stderr.startswith(
            f"htx-keys: error: Cannot read every key in keyring (service {keyring_service}) "
            f"(Key {victim.access_key[:8]}… in keyring (service {keyring_service}): "
        ), run.explain()
        assert run.stderr.endswith("repair or remove that entry first; nothing was deleted\n")
        assert run.stderr.count("\n") == 1 and run.stdout == ""
        assert_no_secrets(site, [run], victim.secret_key)
    assert set(on_exchange(site)) == {signer.access_key, victim.access_key}


def test_reconcile_a_sub_users_keys_over_rest(htx_site: Site, tmp_path: Path) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = site.env(HTX_KEYS_STORE=f"json:{store}", HTX_KEYS_SESSION="none")
    seed_key(site, "parent [htx-keys]", store)
    sub_uid = site.account.sub_uids[0]
    held = seed_sub_key(site, sub_uid, "sub bot [htx-keys]", store)
    orphan = seed_sub_key(site, sub_uid, "sub crashed [htx-keys]")
    backdate(site, orphan.access_key, 15)
    young = seed_sub_key(site, sub_uid, "sub new [htx-keys]")
    uid = ["--sub-uid", str(sub_uid)]

    found = run_cli(["keys", "reconcile", *uid, "--format", "json"], env, tmp_path)
    assert found.returncode == 14, found.explain()
    assert {r["access_key"]: r["verdict"] for r in json.loads(found.stdout)} == {
        orphan.access_key: "delete",
        young.access_key: "too new to judge",
    }

    fixed = run_cli(["keys", "reconcile", *uid, "--revoke", "--yes"], env, tmp_path)
    assert fixed.returncode == 0, fixed.explain()
    assert f"Revoked orphan {orphan.access_key}" in fixed.stdout
    assert set(sub_keys(site, sub_uid)) == {held.access_key, young.access_key}
    # --min-age 0: the young key is judged too, and is an orphan.
    now = run_cli(["keys", "reconcile", *uid, "--min-age", "0"], env, tmp_path)
    assert now.returncode == 14, now.explain()
    assert now.stdout.startswith(f"Orphan {young.access_key}")
    for run in (found, fixed, now):
        assert BROWSER not in run.stderr
    assert_no_secrets(site, [found, fixed, now], orphan.secret_key)
