"""The README's main job (`htx-keys demo`) and the two-terminal path (`sandbox` + `provision`)."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import keyring
import pytest
from dotenv import dotenv_values

from tests.support.cli import run_cli, start_cli
from tests.support.ga import SHORT_TOTP_STEP_S

pytestmark = [pytest.mark.e2e, pytest.mark.cost(30)]


def test_demo_provisions_into_the_keyring(
    secret_service: None, tmp_path: Path, leak_secrets: dict[str, str]
) -> None:
    # The replica's GA step from the environment, as a user can set it (HTX's 30 s is the
    # default; the ledger test proves the 30 s waits).
    env = {"HTX_KEYS_STATE_DIR": str(tmp_path / "state"), "HTX_TOTP_PERIOD": str(SHORT_TOTP_STEP_S)}
    run = run_cli(["demo", "--format", "json"], env, cwd=tmp_path)
    assert run.returncode == 0, run.explain()
    out = json.loads(run.stdout)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{5}", out["access_key"])
    assert out["stored_in"].startswith("keyring")
    stored = json.loads(keyring.get_password("htx-keys-demo", out["access_key"]) or "{}")
    # The demo's account lives and dies inside the command; its key is what the test can know.
    leak_secrets["demo secret key"] = stored.get("secret_key", "")
    assert re.fullmatch(r"[0-9a-f-]{32}", stored["secret_key"])
    assert stored["secret_key"] not in run.stdout + run.stderr
    assert "sandbox and mail server stopped" in run.stderr
    print(f"htx-keys demo wall time: {run.seconds:.1f} s")


def control(base_url: str, name: str, change: dict[str, object] | None = None) -> Any:
    """The sandbox's loopback-only controls (sandbox/control.py): GET, or POST a change."""
    request = urllib.request.Request(
        f"{base_url}/-/sandbox/{name}",
        data=None if change is None else json.dumps(change).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_sandbox_command_and_provision_in_two_terminals(
    tmp_path: Path, leak_secrets: dict[str, str]
) -> None:
    env_file = tmp_path / "sandbox.env"
    state = tmp_path / "state"
    server = start_cli(
        ["sandbox", "--port", "0", "--write-env", str(env_file), "--totp-period", "5"],
        {"HTX_KEYS_STATE_DIR": str(state)},
        tmp_path,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists():
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the sandbox never wrote its .env"
            time.sleep(0.2)
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        settings = dotenv_values(env_file, interpolate=False)
        assert settings["HTX_TOTP_PERIOD"] == "5"  # what provision must use with this replica
        for name in ("HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD"):
            leak_secrets[f"sandbox {name}"] = settings.get(name) or ""
        # Faults switch while it runs, over loopback HTTP: every mail comes twice from now on.
        base = str(settings["HTX_BASE_URL"])
        assert control(base, "faults", {"duplicate_mail": True})["duplicate_mail"] is True
        store = tmp_path / "keys.json"
        run = run_cli(
            [
                "provision",
                "--env-file",
                str(env_file),
                "--note",
                "by hand",
                "--store",
                f"json:{store}",
                "--format",
                "json",
            ],
            {"HTX_KEYS_STATE_DIR": str(state)},
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.explain()
        out = json.loads(run.stdout)
        records = json.loads(store.read_text())
        assert [r["access_key"] for r in records] == [out["access_key"]]
        leak_secrets["secret key"] = records[0]["secret_key"]
        # One Send, one Confirm: the second copy of the mail changed nothing.
        calls = control(base, "calls")
        assert (calls["send"], calls["confirm"]) == (1, 1), calls
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=40)
    assert server.returncode == 0, err
    assert "HTX sandbox at http://127.0.0.1:" in err
    written = dotenv_values(env_file, interpolate=False)
    assert written["HTX_PASSWORD"] and written["HTX_PASSWORD"] not in err
    # Nothing of the embedded mail server is left running: its port is closed.
    port = int(written["HTX_IMAP_PORT"] or 0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
