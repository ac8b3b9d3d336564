"""`exec` and a hang-up, for real: the terminal or SSH session that started `htx-keys exec`
closes (SIGHUP) while the command runs; the command is told, the key is revoked on the
sandbox and forgotten here, as after SIGTERM (tests/e2e/test_lifecycle.py). The command never
saw the account's secrets or where its saved session is."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import Background
from tests.support.keys import assert_no_secrets, on_exchange, saved_session, stored
from tests.support.site import Site

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cost(45),
    pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (Windows)"),
]

# Uses the key (a signed call), writes what it saw, then runs on until it is told to stop.
CHILD = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from flows.htx.rest import HtxRest
rest = HtxRest({api!r}, os.environ["HTX_ACCESS_KEY"], os.environ["HTX_SECRET_KEY"])
seen = {{"access_key": os.environ["HTX_ACCESS_KEY"], "uid": rest.uid(), "pid": os.getpid(),
         "names": sorted(n for n in os.environ if n.startswith("HTX_"))}}
open({seen!r}, "w").write(json.dumps(seen))
time.sleep(300)
"""


def test_exec_revokes_the_key_after_a_hang_up(htx_site: Site, tmp_path: Path) -> None:
    site, store, seen = htx_site, tmp_path / "keys.json", tmp_path / "seen.json"
    session = saved_session(site, tmp_path / "session.json")
    env = site.env(
        HTX_KEYS_STORE=f"json:{store}",
        HTX_KEYS_SESSION=f"file:{session}",
        HTX_KEYS_SESSION_MAIN=f"file:{session}",  # an account's own form
    )
    root = str(Path(__file__).resolve().parents[2])
    code = CHILD.format(root=root, api=site.server.base_url, seen=str(seen))
    proc = Background(["exec", "--", sys.executable, "-c", code], env, tmp_path)
    try:
        proc.wait_for("running ")
        deadline = time.monotonic() + 60
        while not seen.exists() and time.monotonic() < deadline:  # the command used the key
            time.sleep(0.1)
        assert seen.exists() and len(on_exchange(site)) == 1
        (secret,) = (k.secret_key for k in on_exchange(site).values())
        proc.signal(signal.SIGHUP)
        run = proc.finish(timeout=300)
    finally:
        stop_command(seen)
    assert run.returncode == 128 + signal.SIGHUP, run.explain()
    assert "SIGHUP: passing it on; the key is revoked once the command ends" in run.stderr
    saw = json.loads(seen.read_text())
    assert saw["uid"] == site.account.uid
    assert f"key {saw['access_key'][:8]}… revoked" in run.stderr
    assert on_exchange(site) == {} and stored(store) == {}
    names = set(saw["names"])
    assert {"HTX_ACCESS_KEY", "HTX_SECRET_KEY", "HTX_EMAIL", "HTX_KEYS_STORE"} <= names
    withheld = {"HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD", "HTX_KEYS_SESSION"}
    assert names & {*withheld, "HTX_KEYS_SESSION_MAIN"} == set()
    assert_no_secrets(site, [run], secret)


def stop_command(seen: Path) -> None:
    """Should `exec` have died without passing the hang-up on, its command would run on."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        os.kill(json.loads(seen.read_text())["pid"], signal.SIGKILL)
