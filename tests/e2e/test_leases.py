"""Keys for CI that clean up after themselves, for real (Chromium, the replica over HTTP,
Dovecot over TLS): a session exported once and read from an environment variable, a key with
a short lease whose run is killed right after the key is stored (a CI runner that died before
its cleanup step), `keys reap` deleting it once the lease has run out, and the audit trail of
it all, with the CI run of each operation and no secret.

One site and one scene for the module (each tool run costs seconds of CPU): the tests read
what the scene did. Keys made "earlier" go straight into the replica (tests/support/keys.py):
one made by hand, one the tool made without a lease (never reaped), one with a lease still
running, one whose lease ran out, made by another machine and held nowhere here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.htx.lease import stamp
from sandbox.state import ApiKey
from tests.support.cli import Background, Run, run_cli
from tests.support.dovecot import Dovecot
from tests.support.keys import on_exchange, seed_key, stored
from tests.support.leaks import leaks
from tests.support.site import Site, serve_sites

pytestmark = [pytest.mark.e2e, pytest.mark.cost(150)]

TTL_S = 90  # outlasts the provisioning run on a busy machine; the wait is sleep, not CPU
# (the cost above counts the wall time: a module that waits 90 s starts early, not last)
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "777001",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "acme/bots",
    "GITHUB_JOB": "test",
}
GITLAB = {
    "GITHUB_ACTIONS": "",
    "GITLAB_CI": "true",
    "CI_PIPELINE_ID": "9001",
    "CI_JOB_ID": "5005",
    "CI_JOB_URL": "https://gitlab.example/acme/bots/-/jobs/5005",
    "CI_JOB_TOKEN": "glcbt-never-in-the-log-0123456789",  # a CI token: never recorded
}


@dataclass
class Scene:
    site: Site
    base: Path
    store: Path
    audit: Path
    exported: str
    login: Run
    killed: Run
    killed_key: str
    killed_record: dict[str, object]  # as the killed run stored it
    lease_until: str
    dry: Run
    reap: Run
    history: Run
    by_hand: ApiKey
    no_lease: ApiKey
    running: ApiKey
    ran_out: ApiKey
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def scene(dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    base = tmp_path_factory.mktemp("leases")
    with ExitStack() as stack:
        (site,) = serve_sites(dovecot, stack, base / "state", [{}], shared=False)
        yield play(site, base)


def play(site: Site, base: Path) -> Scene:
    store, audit = base / "keys.json", base / "state" / "audit.jsonl"
    now = dt.datetime.now(dt.UTC)
    by_hand = seed_key(site, "made by hand")
    no_lease = seed_key(site, "kept [htx-keys]")
    running = seed_key(site, f"long job [htx-keys until {stamp(now + dt.timedelta(hours=2))}]")
    ran_out = seed_key(site, f"dead job [htx-keys until {stamp(now - dt.timedelta(hours=1))}]")

    # Once, on a desktop: sign in and print the session for a CI secret.
    login = run_cli(["login", "--headless", "--export-session"], site.env(), base)
    assert login.returncode == 0, login.explain()
    exported = login.stdout.strip()

    # A CI job: no password at all, the session from its secret; killed once the key is
    # stored (its runner died), long before any cleanup step could run.
    ci = {k: v for k, v in site.env().items() if k != "HTX_PASSWORD"}
    ci.update(GITHUB, HTX_SESSION=exported, HTX_KEYS_SESSION="env:HTX_SESSION",
              HTX_KEYS_STORE=f"json:{store}")  # fmt: skip
    args = ["provision", "--note", "ci run 777001", "-p", "trade", "--ip", "127.0.0.1",
            "--ttl", f"{TTL_S}s", "--format", "json"]  # fmt: skip
    job = Background(args, ci, base)
    deadline = time.monotonic() + 240
    while not stored(store) and job.proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    job.signal(signal.SIGKILL)
    killed = job.finish()
    assert stored(store), killed.explain()
    (record,) = stored(store).values()
    killed_key, lease_until = str(record["access_key"]), str(record["lease_until"])

    # Before the lease ends: a dry run (the list over REST, signed by the stored key).
    reaper = {**ci, **GITLAB}
    dry = run_cli(["keys", "reap", "--dry-run", "--format", "json"], reaper, base)
    assert dry.returncode == 0, dry.explain()

    ends = dt.datetime.strptime(lease_until, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    time.sleep(max(0.0, (ends - dt.datetime.now(dt.UTC)).total_seconds() + 1))
    reap = run_cli(["keys", "reap", "--yes"], reaper, base)
    history = run_cli(["keys", "history"], reaper, base)
    secrets = {
        **site.secrets,
        "exported session": exported,
        "killed key's secret": str(record["secret_key"]),
        "GitLab job token": GITLAB["CI_JOB_TOKEN"],
    }
    secrets.update({f"secret of {k.note}": k.secret_key for k in (running, ran_out, no_lease)})
    return Scene(site, base, store, audit, exported, login, killed, killed_key, record,
                 lease_until, dry, reap, history, by_hand, no_lease, running, ran_out,
                 secrets)  # fmt: skip


def audit_lines(scene: Scene) -> list[dict[str, object]]:
    return [json.loads(line) for line in scene.audit.read_text().splitlines()]


def test_login_exports_the_session_with_a_warning_and_a_ci_job_runs_on_it(scene: Scene) -> None:
    assert scene.exported.startswith("htx-keys-session:1:")
    assert scene.login.stdout == scene.exported + "\n"  # the one output that holds it
    assert "warning: the line on stdout is a signed-in session of" in scene.login.stderr
    assert scene.exported not in scene.login.stderr
    # The job had no HTX_PASSWORD: the key was made on the session from HTX_SESSION alone.
    assert "with the saved session" in scene.killed.stderr, scene.killed.explain()
    login = "Log in with email and password: skipped (signed in with the saved session)"
    assert login in scene.killed.stderr


def test_a_killed_run_leaves_a_key_with_its_lease_in_the_note_and_the_store(
    scene: Scene,
) -> None:
    assert scene.killed.returncode == -signal.SIGKILL, scene.killed.explain()
    until = dt.datetime.strptime(scene.lease_until, "%Y-%m-%dT%H:%M:%SZ")
    note = f"ci run 777001 [htx-keys until {until.strftime('%Y%m%dT%H%M%SZ')}]"
    record = scene.killed_record
    assert record["note"] == note
    assert record["lease_until"] == scene.lease_until
    plan = {row["access_key"]: row for row in json.loads(scene.dry.stdout)}
    # Only keys with a lease are looked at: not the one made by hand, nor the tool's without.
    assert set(plan) == {scene.killed_key, scene.running.access_key, scene.ran_out.access_key}
    assert plan[scene.killed_key]["verdict"] == "lease running", scene.dry.explain()
    assert plan[scene.running.access_key]["verdict"] == "lease running"
    assert plan[scene.ran_out.access_key]["verdict"] == "delete"
    assert str(plan[scene.ran_out.access_key]["why"]).startswith("lease ended 6")  # 60-61m
    assert "Open the HTX website" not in scene.dry.stderr  # listed over REST: no browser


def test_reap_deletes_the_keys_whose_lease_ran_out_and_nothing_else(scene: Scene) -> None:
    assert scene.reap.returncode == 0, scene.reap.explain()
    assert set(on_exchange(scene.site)) == {
        scene.by_hand.access_key,
        scene.no_lease.access_key,
        scene.running.access_key,
    }
    out = scene.reap.stdout
    assert f"Reaped {scene.killed_key}  ci run 777001 [htx-keys until" in out
    assert f"Reaped {scene.ran_out.access_key}  dead job [htx-keys until" in out
    assert f"Running {scene.running.access_key}  long job" in out
    assert f"removed from {scene.store}" in out
    assert stored(scene.store) == {}  # the local copy went with the key


def test_the_audit_log_has_every_operation_with_its_ci_run_and_no_secret(scene: Scene) -> None:
    mode = stat.S_IMODE(os.stat(scene.audit).st_mode)
    assert mode == 0o600
    lines = audit_lines(scene)
    events = [(e["event"], e["access_key"], e["outcome"]) for e in lines]
    assert events == [
        ("create", scene.killed_key, "created"),
        ("reap", scene.killed_key, "deleted"),
        ("reap", scene.ran_out.access_key, "deleted"),
    ] or events == [
        ("create", scene.killed_key, "created"),
        ("reap", scene.ran_out.access_key, "deleted"),
        ("reap", scene.killed_key, "deleted"),
    ]
    create = lines[0]
    assert create["ci"] == {
        "provider": "github",
        "run_id": "777001",
        "url": "https://github.example/acme/bots/actions/runs/777001",
        "attempt": "1",
        "job": "test",
        "repository": "acme/bots",
    }
    assert create["account"] == scene.site.account.email
    assert create["permissions"] == ["read", "trade"] and create["ip_addresses"] == ["127.0.0.1"]
    assert create["lease_until"] == scene.lease_until
    for reaped in lines[1:]:
        assert reaped["ci"] == {
            "provider": "gitlab",
            "run_id": "9001",
            "url": "https://gitlab.example/acme/bots/-/jobs/5005",
            "job_id": "5005",
        }
    found = leaks(scene.secrets, {"history": scene.history.stdout}, [scene.audit])
    assert found == []
    assert "glcbt" not in scene.audit.read_text()


def test_history_shows_the_trail(scene: Scene) -> None:
    assert scene.history.returncode == 0, scene.history.explain()
    lines = scene.history.stdout.splitlines()
    assert len(lines) == 3
    assert f"create  created  {scene.killed_key}  'ci run 777001 [htx-keys until" in lines[0]
    assert lines[0].endswith(
        "github run 777001  https://github.example/acme/bots/actions/runs/777001"
    )
    assert all(" reap  deleted  " in line and "gitlab run 9001" in line for line in lines[1:])


def test_no_run_shows_a_secret(scene: Scene) -> None:
    runs = {"killed": scene.killed, "dry": scene.dry, "reap": scene.reap}
    texts = {f"{name} {part}": getattr(run, part) for name, run in runs.items()
             for part in ("stdout", "stderr")}  # fmt: skip
    texts["login stderr"] = scene.login.stderr
    assert leaks(scene.secrets, texts, []) == []
    # Nor any file the runs wrote (the module's leak check knows the site's secrets, not
    # these two): the state dir, its audit log, run artifacts, the store.
    others = {k: scene.secrets[k] for k in ("exported session", "GitLab job token")}
    assert leaks(others, {}, [scene.base]) == []
