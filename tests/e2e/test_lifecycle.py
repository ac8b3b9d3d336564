"""Keys over their life, for real: list, revoke, rotate, --count, reconcile, exec and the CI
outputs, through Chromium, the sandbox over HTTP, Dovecot over TLS and ccxt.

Keys that exist before a test (made "earlier", by the tool or by hand) go straight into the
sandbox, and the session `htx-keys login` would have saved is given to the tool, so that each
test spends GA codes only on what it tests: every create and delete needs its own fresh code,
and a fresh code means waiting for the next GA time step (a few seconds: tests run the
sandbox with a short step, tests/support/ga.py).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import Background, run_cli
from tests.support.keys import (
    assert_no_secrets,
    on_exchange,
    saved_session,
    seed_key,
    seed_sub_key,
    stored,
    sub_keys,
    unseed,
)
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(130)]


def lifecycle_env(site: Site, tmp_path: Path, **extra: str) -> dict[str, str]:
    session = saved_session(site, tmp_path / "session.json")
    return site.env(
        HTX_KEYS_STORE=f"json:{tmp_path / 'keys.json'}",
        HTX_KEYS_SESSION=f"file:{session}",
        **extra,
    )


def test_count_three_then_a_rerun_creates_nothing_and_list_joins_both_sides(
    htx_site: Site, tmp_path: Path
) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = lifecycle_env(site, tmp_path)
    by_hand = seed_key(site, "made by hand")  # on HTX, not held here, no tag
    args = ["provision", "--note", "bots", "--count", "3", "-p", "trade", "--ip", "127.0.0.1"]

    first = run_cli([*args, "--format", "json"], env, cwd=tmp_path, timeout=400)
    assert first.returncode == 0, first.explain()
    made = json.loads(first.stdout)
    assert [m["created"] for m in made] == [True, True, True]
    assert all(m["verified"] is True and m["note"] == "bots [htx-keys]" for m in made)
    keys = on_exchange(site)
    assert {m["access_key"] for m in made} | {by_hand.access_key} == set(keys)
    assert set(stored(store)) == {m["access_key"] for m in made}
    # One browser session: the saved login, then three creates with their own codes.
    assert first.stderr.count("[1/5] Open the HTX website") == 1
    assert first.stderr.count("[6/7] Copy the Access Key and Secret Key") == 3

    again = run_cli([*args, "--format", "json"], env, cwd=tmp_path)
    assert again.returncode == 0, again.explain()
    assert [m["created"] for m in json.loads(again.stdout)] == [False, False, False]
    assert "GET /v2/user/api-key" in again.stderr and "Open the HTX website" not in again.stderr
    assert set(on_exchange(site)) == set(keys)

    listed = run_cli(["keys", "list", "--format", "json"], env, cwd=tmp_path)
    assert listed.returncode == 0, listed.explain()
    rows = {r["access_key"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == set(keys)
    for m in made:
        row = rows[m["access_key"]]
        assert row["secret_held"] is True and row["tagged"] is True
        assert (row["valid_days"], row["status"]) == (None, "normal")
        assert row["permissions"] == ["read", "trade"] and row["ip_addresses"] == ["127.0.0.1"]
    hand = rows[by_hand.access_key]
    assert (hand["secret_held"], hand["tagged"], hand["note"]) == (False, False, "made by hand")

    # The website shows the same keys and facts as the API.
    web = run_cli(["keys", "list", "--source", "web", "--format", "json"], env, cwd=tmp_path)
    assert web.returncode == 0, web.explain()
    web_rows = {r["access_key"]: r for r in json.loads(web.stdout)}
    strip = ("created_at",)  # the table shows seconds, the API milliseconds: both ISO here
    assert {k: {f: v for f, v in r.items() if f not in strip} for k, r in web_rows.items()} == {
        k: {f: v for f, v in r.items() if f not in strip} for k, r in rows.items()
    }
    text = run_cli(["keys", "list"], env, cwd=tmp_path)
    assert text.stdout.splitlines()[0].split() == [
        "ACCESS", "KEY", "NOTE", "PERMISSIONS", "IP", "ADDRESSES", "VALID", "DAYS", "STATUS",
        "SECRET",
    ]  # fmt: skip
    assert "made by hand" in text.stdout and "not held" in text.stdout
    assert_no_secrets(site, [first, again, listed, web, text])


def test_expiring_within_lists_only_those_and_exits_14(htx_site: Site, tmp_path: Path) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = lifecycle_env(site, tmp_path)
    bound = seed_key(site, "bound [htx-keys]", store)  # IPs bound: never expires
    loose = seed_key(site, "loose [htx-keys]", store, ips=())  # 90 days
    soon = run_cli(["keys", "list", "--expiring-within", "13w", "--format", "json"], env, tmp_path)
    assert soon.returncode == 14, soon.explain()
    assert [r["access_key"] for r in json.loads(soon.stdout)] == [loose.access_key]
    assert [r["valid_days"] for r in json.loads(soon.stdout)] == [90]
    assert "1 key(s) expire within 13w" in soon.stderr
    later = run_cli(["keys", "list", "--expiring-within", "14d"], env, tmp_path)
    assert (later.returncode, later.stdout.strip()) == (0, "No keys."), later.explain()
    assert bound.access_key not in soon.stdout
    bad = run_cli(["keys", "list", "--expiring-within", "soon"], env, tmp_path)
    assert bad.returncode == 2 and "use a number of days like 14d" in bad.stderr
    assert_no_secrets(site, [soon, later, bad])


def test_revoke_through_the_website_and_what_is_already_gone(
    htx_site: Site, tmp_path: Path
) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = lifecycle_env(site, tmp_path)
    signer = seed_key(site, "signer [htx-keys]", store)
    twins = [seed_key(site, "twin [htx-keys]", store) for _ in range(2)]
    target = seed_key(site, "old bot [htx-keys]", store)

    several = run_cli(["keys", "revoke", "--note", "twin"], env, tmp_path)
    assert several.returncode == 2, several.explain()
    assert "add --all" in several.stderr and "Open the HTX website" not in several.stderr

    run = run_cli(["keys", "revoke", "--note", "old bot"], env, tmp_path)
    assert run.returncode == 0, run.explain()
    assert run.stdout.strip() == f"Revoked API key {target.access_key}; removed from {store}"
    for title in ("Press Delete on the key's row", "Confirm the deletion", "Send the email"):
        assert title in run.stderr
    assert target.access_key not in on_exchange(site)
    assert target.access_key not in stored(store)

    # Already gone: nothing on HTX, nothing here -> 15; a stale local copy just goes.
    gone = run_cli(["keys", "revoke", target.access_key], env, tmp_path)
    assert gone.returncode == 15, gone.explain()
    unseed(site, twins[0].access_key)  # deleted on HTX behind the tool's back
    stale = run_cli(["keys", "revoke", twins[0].access_key], env, tmp_path)
    assert stale.returncode == 0, stale.explain()
    assert "is not on HTX; removed from" in stale.stdout
    assert set(stored(store)) == {signer.access_key, twins[1].access_key}
    assert_no_secrets(site, [several, run, gone, stale], target.secret_key, twins[0].secret_key)


def test_rotate_interrupted_after_the_new_key_is_stored_keeps_both(
    htx_site: Site, tmp_path: Path
) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    env = lifecycle_env(site, tmp_path)
    old = seed_key(site, "rotating [htx-keys]", store)
    proc = Background(["keys", "rotate", old.access_key, "--format", "json"], env, tmp_path)
    proc.wait_for("the old key")  # "new key ... stored in ...; the old key ... still works"
    proc.signal(signal.SIGTERM)
    run = proc.finish()
    assert run.returncode == 130, run.explain()
    assert f"the old key {old.access_key} may still exist" in run.stderr
    keys = on_exchange(site)
    assert old.access_key in keys and len(keys) == 2
    (new,) = set(keys) - {old.access_key}
    assert set(stored(store)) == {old.access_key, new}
    assert keys[new].note == old.note and keys[new].ip_addresses == old.ip_addresses
    # Both stored keys work.
    check = run_cli(["verify", "--format", "json"], env, tmp_path)
    assert check.returncode == 0, check.explain()
    assert {r["access_key"]: r["verified"] for r in json.loads(check.stdout)} == {
        old.access_key: True,
        new: True,
    }
    assert_no_secrets(site, [run, check])


def test_rotate_with_github_outputs(htx_site: Site, tmp_path: Path) -> None:
    site, store = htx_site, tmp_path / "keys.json"
    outputs, job_env = tmp_path / "github-output.env", tmp_path / "github-env.env"
    env = lifecycle_env(site, tmp_path, GITHUB_OUTPUT=str(outputs), GITHUB_ENV=str(job_env))
    old = seed_key(site, "ci [htx-keys]", store, permissions=("read",), ips=("10.0.0.0/8",))
    run = run_cli(
        ["keys", "rotate", "--note", "ci", "--format", "github", "--export-env"], env, tmp_path
    )
    assert run.returncode == 0, run.explain()
    keys = on_exchange(site)
    (new,) = keys
    assert new != old.access_key and keys[new].ip_addresses == ("10.0.0.0/8",)
    secret = keys[new].secret_key
    lines = run.stdout.splitlines()
    # The masks come first, before any line that could carry the values.
    assert lines[:2] == [f"::add-mask::{new}", f"::add-mask::{secret}"]
    assert lines[2] == f"Created API key {new}"
    assert all(secret not in line for line in lines[2:])
    assert secret not in run.stderr
    assert outputs.read_text().splitlines() == [
        f"access_key={new}",
        f"secret_key={secret}",
        "note=ci [htx-keys]",
        "expires_at=",
    ]
    assert job_env.read_text().splitlines() == [
        f"HTX_ACCESS_KEY={new}",
        f"HTX_SECRET_KEY={secret}",
    ]
    assert set(stored(store)) == {new}
    assert "verified      skipped" in run.stdout  # bound to addresses other than this one


CHILD = """
import os, sys
sys.path.insert(0, {root!r})
from flows.htx.rest import HtxRest
rest = HtxRest({api!r}, os.environ["HTX_ACCESS_KEY"], os.environ["HTX_SECRET_KEY"])
open({seen!r}, "w").write(os.environ["HTX_ACCESS_KEY"] + " " + str(rest.uid()))
{then}
"""


def child_command(site: Site, seen: Path, then: str) -> list[str]:
    root = str(Path(__file__).resolve().parents[2])
    code = CHILD.format(root=root, api=site.server.base_url, seen=str(seen), then=then)
    return [sys.executable, "-c", code]


def test_exec_revokes_the_key_after_the_command_fails(htx_site: Site, tmp_path: Path) -> None:
    site, store, seen = htx_site, tmp_path / "keys.json", tmp_path / "seen.txt"
    env = lifecycle_env(site, tmp_path)
    command = child_command(site, seen, "sys.exit(3)")
    run = run_cli(["exec", "--note", "ephemeral", "--", *command], env, tmp_path, timeout=300)
    assert run.returncode == 3, run.explain()
    access_key, uid = seen.read_text().split()
    assert uid == str(site.account.uid)  # the command used the key with ccxt
    assert on_exchange(site) == {} and stored(store) == {}
    assert f"key {access_key[:8]}… revoked" in run.stderr
    assert "exited with status 3" in run.stderr
    assert_no_secrets(site, [run])


def test_exec_revokes_the_key_after_sigterm(htx_site: Site, tmp_path: Path) -> None:
    site, store, seen = htx_site, tmp_path / "keys.json", tmp_path / "seen.txt"
    env = lifecycle_env(site, tmp_path)
    command = child_command(site, seen, "import time; time.sleep(300)")
    proc = Background(["exec", "--", *command], env, tmp_path)
    proc.wait_for("running ")
    deadline = time.monotonic() + 60
    while not seen.exists() and time.monotonic() < deadline:  # the command used the key
        time.sleep(0.1)
    assert seen.exists() and len(on_exchange(site)) == 1
    (secret,) = (k.secret_key for k in on_exchange(site).values())
    proc.signal(signal.SIGTERM)
    run = proc.finish(timeout=300)
    assert run.returncode == 128 + signal.SIGTERM, run.explain()
    assert "SIGTERM: passing it on" in run.stderr
    assert on_exchange(site) == {} and stored(store) == {}
    assert_no_secrets(site, [run], secret)


def test_a_sub_users_keys_over_rest_list_rotate_exec(htx_site: Site, tmp_path: Path) -> None:
    """The parent's stored key signs everything; no browser starts."""
    site, store, seen = htx_site, tmp_path / "keys.json", tmp_path / "seen.txt"
    env = site.env(HTX_KEYS_STORE=f"json:{store}", HTX_KEYS_SESSION="none")
    parent = seed_key(site, "parent [htx-keys]", store)
    sub_uid = site.account.sub_uids[0]
    old = seed_sub_key(site, sub_uid, "sub bot [htx-keys]", store)
    uid = ["--sub-uid", str(sub_uid)]

    listed = run_cli(["keys", "list", *uid, "--format", "json"], env, tmp_path)
    assert listed.returncode == 0, listed.explain()
    assert [(r["access_key"], r["secret_held"]) for r in json.loads(listed.stdout)] == [
        (old.access_key, True)
    ]

    rotated = run_cli(
        ["keys", "rotate", "--note", "sub bot", *uid, "--format", "json"], env, tmp_path
    )
    assert rotated.returncode == 0, rotated.explain()
    new = json.loads(rotated.stdout)
    assert (new["sub_uid"], new["note"], new["verified"]) == (sub_uid, "sub bot [htx-keys]", True)
    assert set(sub_keys(site, sub_uid)) == {new["access_key"]}
    assert set(stored(store)) == {parent.access_key, new["access_key"]}

    command = child_command(site, seen, "")
    ran = run_cli(["exec", *uid, "-p", "trade", "--", *command], env, tmp_path)
    assert ran.returncode == 0, ran.explain()
    assert seen.read_text().split()[1] == str(sub_uid)  # the command signed as the sub-user
    assert set(sub_keys(site, sub_uid)) == {new["access_key"]}  # exec's key is gone again
    assert set(stored(store)) == {parent.access_key, new["access_key"]}
    for run in (listed, rotated, ran):
        assert "Open the HTX website" not in run.stderr
    assert_no_secrets(site, [listed, rotated, ran], old.secret_key)
