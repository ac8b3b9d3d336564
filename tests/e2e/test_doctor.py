"""`htx-keys doctor` against the sandbox: real Chromium, Dovecot over TLS, the Secret Service.

The relabel test needs sandbox/app.py to wrap its app in sandbox.relabel.Relabel (the
`Faults.labels` fault); without that wiring the renamed label never reaches the browser.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from htx_keys.app.checks import DOCTOR_FAILED
from htx_keys.app.doctor_targets import TARGETS
from tests.support.cli import Invoked, invoke
from tests.support.keyring_env import keyring_service  # noqa: F401  (fixture)
from tests.support.keys import seed_key
from tests.support.site import Site, SiteFactory

pytestmark = [pytest.mark.e2e, pytest.mark.cost(45)]

IP_ROW = "API Management: textbox 'Link IP Address (optional)'"


def run_doctor_cli(site: Site, *args: str, **env: str) -> Invoked:
    return invoke(["doctor", "--quiet", *args], env=site.env(**env))


def last_used_step(site: Site) -> int:
    """The GA time step the tool's ledger (in the site's state dir) says was used last."""
    (ledger,) = site.state_dir.glob("totp-*.json")
    return int(json.loads(ledger.read_text())["last_step"])


def rows_of(result: Invoked) -> dict[str, dict[str, Any]]:
    rows = json.loads(result.stdout)
    assert [set(r) for r in rows] == [{"check", "result", "detail", "fix"}] * len(rows)
    return {r["check"]: r for r in rows}


def assert_no_secrets(site: Site, text: str) -> None:
    for label, secret in site.secrets.items():
        assert secret not in text, f"the {label} leaked"


def assert_nothing_made(site: Site, keys: tuple[str, ...] = ()) -> None:
    state = site.server.state
    assert tuple(k.access_key for k in state.keys_for(site.account.email)) == keys
    assert state.outbox == []  # Send was never pressed: no mail went out


def test_doctor_is_green_then_names_a_renamed_label(
    htx_site: Site,
    keyring_service: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = htx_site
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    store = f"keyring:{keyring_service}"
    existing = (seed_key(site, "in the list").access_key,)  # its Delete is checked, then left
    result = run_doctor_cli(site, "--format", "json", HTX_KEYS_STORE=store)
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    assert {t.name for t in TARGETS} <= set(rows)
    not_passed = {name: r["result"] for name, r in rows.items() if r["result"] != "pass"}
    # no site file beside the accounts file, and no code command
    assert not_passed == {"site file": "skip", "code command": "skip"}
    assert rows["login"]["detail"] == f"logged in as {site.account.email}"
    assert rows["keyring"]["detail"] == (
        f"stores and returns a secret: keyring (service {keyring_service})"
    )
    assert rows["mailbox"]["detail"].startswith(
        f"127.0.0.1:{site.dovecot.imaps_port} (TLS, certificate checked)"
    )
    assert rows["Delete API Key: dialog 'Delete API Key'"]["result"] == "pass"
    assert_no_secrets(site, result.output)
    assert_nothing_made(site, existing)
    used = last_used_step(site)  # the doctor logged in with one GA code

    # A renamed label: the box is still found by a later way (its placeholder), so the flow
    # copes, and the row names the label to update.
    site.server.faults.labels = {"Link IP Address (optional)": "IP whitelist"}
    result = run_doctor_cli(site, "--format", "json", HTX_KEYS_STORE=store)
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    ip = rows[IP_ROW]
    assert ip["result"] == "pass"
    assert ip["detail"] == (
        "found by its fallback placeholder 'e.g. 192.168.0.1', "
        "not by label 'Link IP Address (optional)'"
    )
    # ... and the line of the site file that names the new label (tests/e2e/test_site_file.py
    # puts it there and makes a key with it).
    assert ip["fix"].startswith("HTX shows 'IP whitelist': put this line under [texts] in ")
    assert 'site.toml: T_IPS = "IP whitelist"' in ip["fix"], ip["fix"]
    skipped = (IP_ROW, "site file", "code command")
    others = {name: r["result"] for name, r in rows.items() if name not in skipped}
    assert set(others.values()) == {"pass"}, others
    assert_nothing_made(site, existing)
    # The second run logged in with a code of a later step (each code works once).
    assert last_used_step(site) > used


def test_doctor_text_table_for_a_refused_login(
    htx_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = htx_site
    monkeypatch.chdir(tmp_path)
    keys = tmp_path / "keys.json"
    result = run_doctor_cli(
        site, "--session", "none", HTX_PASSWORD="not-the-password", HTX_KEYS_STORE=f"json:{keys}"
    )
    assert result.exit_code == DOCTOR_FAILED, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "RESULT", "DETAIL", "/", "FIX"]
    login = next(i for i, line in enumerate(lines) if line.startswith("login "))
    assert lines[login].split(None, 2)[1:] == [
        "FAIL",
        "the site refused the login: Incorrect account or password",
    ]
    assert lines[login + 1].split() == ["fix:", "check", "HTX_EMAIL", "and", "HTX_PASSWORD"]
    skipped = [line for line in lines if line.endswith(" skip    needs a login")]
    assert len(skipped) == len(TARGETS) - 3  # all but the login form's own rows
    assert any(line.startswith("keyring ") and " skip " in line for line in lines)
    assert any(line.startswith("store file ") and " pass " in line for line in lines)
    assert any(line.startswith("site file ") and " skip " in line for line in lines)
    assert any(line.startswith("code command ") and " skip " in line for line in lines)
    # the targets that need a login, the keyring, the site file and the code command (none)
    assert lines[-1] == f"10 passed, 1 failed, {len(skipped) + 3} skipped"
    assert_no_secrets(site, result.output)
    assert not keys.exists()
    assert_nothing_made(site)


def test_doctor_uses_a_saved_session_without_a_ga_code(
    htx_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    site = htx_site
    monkeypatch.chdir(tmp_path)
    session = f"file:{tmp_path / 'session.json'}"
    login = invoke(["login", "--headless", "--session", session], env=site.env())
    assert login.exit_code == 0, login.output
    used = [p.read_text() for p in site.state_dir.glob("totp-*.json")]
    assert used  # the login spent a GA code; the doctor must not

    keys = f"json:{tmp_path / 'keys.json'}"
    result = run_doctor_cli(
        site, "--format", "json", "--session", session, HTX_PASSWORD="", HTX_KEYS_STORE=keys
    )
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    assert rows["login"] == {
        "check": "login",
        "result": "pass",
        "detail": "signed in with the saved session",
        "fix": "",
    }
    assert rows["Log In: textbox 'Email/Phone Number'"]["result"] == "pass"
    assert rows["Log In: textbox 'Google Authenticator code'"] == {
        "check": "Log In: textbox 'Google Authenticator code'",
        "result": "skip",
        "detail": "not needed: signed in with the saved session",
        "fix": "",
    }
    assert rows[IP_ROW]["result"] == "pass"
    assert [p.read_text() for p in site.state_dir.glob("totp-*.json")] == used  # no GA code
    assert_nothing_made(site)


@pytest.mark.parametrize(
    ("guard", "detail", "fix"),
    [
        (
            {"captcha": "always"},
            "HTX shows a slider captcha",
            "run `htx-keys login --headed` once, or the doctor with --headed",
        ),
        (
            {"new_device_check": True},
            "HTX asks to confirm this browser by email",
            "run `htx-keys login` once; the doctor then uses the saved session",
        ),
    ],
)
def test_doctor_stops_at_a_login_guard_and_sends_nothing(
    site_factory: SiteFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    guard: dict[str, Any],
    detail: str,
    fix: str,
) -> None:
    site = site_factory(**guard)
    monkeypatch.chdir(tmp_path)
    keys = f"json:{tmp_path / 'keys.json'}"
    result = run_doctor_cli(site, "--format", "json", "--session", "none", HTX_KEYS_STORE=keys)
    assert result.exit_code == DOCTOR_FAILED, result.output
    rows = rows_of(result)
    assert rows["login"] == {"check": "login", "result": "FAIL", "detail": detail, "fix": fix}
    assert [n for n, r in rows.items() if r["result"] == "FAIL"] == ["login"]
    assert rows[IP_ROW] == {"check": IP_ROW, "result": "skip", "detail": "needs a login", "fix": ""}
    assert_nothing_made(site)
