"""`htx-keys provision` for real: Chromium, the sandbox over HTTP, Dovecot over TLS, keyring."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import keyring
import pytest

from sandbox.mailer import build_verification_mail
from tests.support.cli import run_cli
from tests.support.keyring_env import secret_tool_lookup
from tests.support.leaks import leaks
from tests.support.site import Site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(60)]


def stale_mail(site: Site, code: str) -> bytes:
    """What a previous attempt left in the mailbox: same sender, older, another code."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
    msg = build_verification_mail(
        code, "create", site.account.mailbox, "HTX <noreply@htx.com>", when
    )
    return msg.as_bytes()


def test_two_provisions_in_a_row_into_the_keyring(
    htx_site: Site, secret_service: None, tmp_path: Path
) -> None:
    site = htx_site
    site.dovecot.deliver(site.account.mailbox, stale_mail(site, "000111"))
    env = site.env()
    runs = []
    for note in ("ci-bot one", "ci-bot two"):
        run = run_cli(
            ["provision", "--note", note, "-p", "trade", "--ip", "127.0.0.1", "--format", "json"],
            env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.explain()
        runs.append(run)

    keys = {k.access_key: k for k in site.server.state.keys_for(site.account.email)}
    assert len(keys) == 2
    for run, note in zip(runs, ("ci-bot one", "ci-bot two"), strict=True):
        out = json.loads(run.stdout)
        assert set(out) == {
            "access_key",
            "note",
            "permissions",
            "ip_addresses",
            "created_at",
            "expires_at",
            "stored_in",
            "verified",
            "read_back",
        }
        assert out["verified"] is True
        assert out["read_back"]["permissions"] == ["read", "trade"]
        assert out["read_back"]["ip_addresses"] == ["127.0.0.1"]
        assert out["read_back"]["note"] == f"{note} [htx-keys]"  # the tool's tag
        assert out["read_back"]["valid_days"] == -1
        assert out["note"] == f"{note} [htx-keys]"
        assert out["permissions"] == ["read", "trade"]
        assert out["ip_addresses"] == ["127.0.0.1"]
        assert out["expires_at"] is None
        assert out["stored_in"].startswith("keyring")
        made = keys[out["access_key"]]
        assert made.note == f"{note} [htx-keys]" and made.ip_addresses == ("127.0.0.1",)
        # The pair is in gnome-keyring, as seen by the keyring library and by secret-tool.
        stored = json.loads(keyring.get_password("htx-keys", out["access_key"]) or "{}")
        assert stored["secret_key"] == made.secret_key
        raw = secret_tool_lookup("htx-keys", out["access_key"])
        assert raw is not None and made.secret_key in raw
        assert "[1/11] Open the HTX website" in run.stderr
        assert "s after Send" in run.stderr

    # The stale code was never submitted: both keys were made, so both codes were fresh.
    secrets = dict(site.secrets)
    secrets.update({f"secret key {i}": k.secret_key for i, k in enumerate(keys.values())})
    found = leaks(
        secrets,
        {
            f"{name} {i}": getattr(r, name)
            for i, r in enumerate(runs)
            for name in ("stdout", "stderr")
        },
        [tmp_path],  # the working directory, the state dir, anything the runs wrote
    )
    assert found == []


def test_json_store_text_output_expiry_and_no_artifacts_kept(
    htx_site: Site, tmp_path: Path
) -> None:
    store, artifacts = tmp_path / "out" / "keys.json", tmp_path / "artifacts"
    # Trace and video kept on failure only: this run succeeds, so nothing is kept.
    on_failure = ["--trace", "retain-on-failure", "--video", "retain-on-failure"]
    run = run_cli(
        ["provision", "--note", "read only", "--store", f"json:{store}", "--output",
         str(artifacts), "--chapter-seconds", "0.3", *on_failure],
        htx_site.env(),
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.explain()
    assert not artifacts.exists() or list(artifacts.iterdir()) == []
    assert "artifacts of this run" not in run.stderr
    assert run.stdout.startswith("Created API key ")
    assert "stored in     " + str(store) in run.stdout
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    records = json.loads(store.read_text())
    assert len(records) == 1
    (made,) = htx_site.server.state.keys_for(htx_site.account.email)
    assert records[0]["secret_key"] == made.secret_key
    assert records[0]["permissions"] == ["read"]
    # A read-only key without IPs does not expire on HTX: no estimate, and HTX agrees.
    assert records[0]["expires_at"] is None
    assert "expires       never (a read-only key without IP addresses)" in run.stdout
    assert "HTX says      permanent (validDays, HTX's own count)" in run.stdout
    assert made.secret_key not in run.stdout + run.stderr


def test_wrong_imap_password_fails_before_any_key_is_made(htx_site: Site, tmp_path: Path) -> None:
    run = run_cli(
        ["provision", "--note", "x", "--store", f"json:{tmp_path / 'k.json'}"],
        htx_site.env(HTX_IMAP_PASSWORD="wrong-password-123"),
        cwd=tmp_path,
    )
    assert run.returncode == 6, run.explain()
    assert run.stderr.splitlines()[-2].startswith("htx-keys: error: IMAP login")
    assert "wrong-password-123" not in run.stderr
    assert htx_site.server.state.keys_for(htx_site.account.email) == []


def test_a_ga_code_used_elsewhere_is_followed_by_the_next_one(
    htx_site: Site, tmp_path: Path
) -> None:
    """Someone logs in with the current code just before the tool does: HTX refuses the
    tool's first code (used once already), and the tool takes the next step's. The sandbox
    spends the step at the moment the tool submits, which a test could only guess."""
    htx_site.server.state.use_ga_code_elsewhere(htx_site.account.email)
    run = run_cli(
        ["provision", "--note", "after a refused code", "--store", f"json:{tmp_path / 'k.json'}"],
        htx_site.env(),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.explain()
    assert "the Google Authenticator code was refused; trying the next one" in run.stderr
    assert len(htx_site.server.state.keys_for(htx_site.account.email)) == 1
