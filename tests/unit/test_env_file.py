"""Every HTX_KEYS_* setting in .env.example works from the .env file exactly as from the
environment: the same `provision` run is set up either way, and differs from a run without
it. The names are read from .env.example, so a new setting cannot be left out."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import htx_keys.app.provisioning
from automation.config import browser_values
from automation.errors import ConfigError, ExitWith
from automation.session import KeyringSession
from htx_keys.app.preflight import Prepared, site_file_path
from htx_keys.app.web_run import WebRun
from tests.support.cli import invoke

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {
    "HTX_BASE_URL": "http://127.0.0.1:9",
    "HTX_API_URL": "http://127.0.0.1:9",
    "HTX_EMAIL": "user@example.test",
    "HTX_PASSWORD": "password-1234",
    "HTX_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DP",
    "HTX_IMAP_HOST": "127.0.0.1",
    "HTX_IMAP_PASSWORD": "imap-password-1234",
    "HTX_IMAP_SECURITY": "plain",
    "HTX_KEYS_STORE": "json:{tmp}/keys.json",
    # the named account's own secrets (HTX_KEYS_ACCOUNT, HTX_KEYS_CONFIG)
    "HTX_PASSWORD_WALK": "walk-password-1234",
    "HTX_TOTP_SECRET_WALK": "JBSWY3DPEHPK3PXPJBSWY3DQ",
    "HTX_IMAP_PASSWORD_WALK": "walk-imap-1234",
}
ACCOUNTS = (
    "[accounts.walk]\nemail = 'walk@example.test'\nimap_host = '127.0.0.1'\n"
    "imap_security = 'plain'\n"
)
SITE = "[texts]\nT_IPS = 'IP whitelist'\n"


@dataclass
class Seen:
    """What `provision` set up: its run, its request, and everything checked before a
    browser (store, browser, mail, settings)."""

    run: WebRun
    note: str
    prep: Prepared


@dataclass(frozen=True)
class Case:
    value: str  # `{tmp}` is the test's folder
    observe: Callable[[Seen], Any]
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "HTX_KEYS_STORE": Case("json:{tmp}/walk-keys.json", lambda s: s.prep.settings.store),
    "HTX_KEYS_BROWSER": Case("/bin/sh", lambda s: s.prep.browser.description),
    "HTX_KEYS_BROWSER_CHANNEL": Case("msedge", lambda s: s.prep.browser.description),
    "HTX_KEYS_STATE_DIR": Case("{tmp}/walk-state", lambda s: s.prep.settings.state_dir),
    "HTX_KEYS_NOTE_TAG": Case("walk", lambda s: s.note),
    "HTX_KEYS_MIN_AGE": Case("5m", lambda s: s.prep.settings.min_age),
    "HTX_KEYS_AUDIT_LOG": Case("{tmp}/walk-audit.jsonl", lambda s: s.prep.settings.audit_log),
    "HTX_KEYS_SITE_FILE": Case("{tmp}/walk-site.toml", lambda s: site_file_path(s.prep.settings)),
    "HTX_KEYS_SESSION": Case("file:{tmp}/walk-session.json", lambda s: s.run.session.description),
    "HTX_KEYS_CDP_ENDPOINT": Case(
        "http://127.0.0.1:9222", lambda s: (s.prep.browser.cdp_endpoint, s.prep.browser.remote)
    ),
    "HTX_KEYS_WS_ENDPOINT": Case(
        "ws://127.0.0.1:3000/", lambda s: (s.prep.browser.ws_endpoint, s.prep.browser.remote)
    ),
    "HTX_KEYS_CONFIG": Case(
        "{tmp}/walk-accounts.toml",
        lambda s: (s.prep.settings.account, s.prep.settings.email),
        args=("--account", "walk"),
    ),
    "HTX_KEYS_ACCOUNT": Case(
        "walk",
        lambda s: (s.prep.settings.account, s.prep.settings.email),
        args=("--config", "{tmp}/walk-accounts.toml"),
    ),
    "HTX_KEYS_ALLOW_INSECURE_TRANSPORT": Case(
        "1",
        lambda s: s.prep.settings.base_url,
        env={"HTX_BASE_URL": "http://htx.example.test", "HTX_API_URL": "https://api.test"},
    ),
    "HTX_KEYS_CODE_COMMAND": Case(
        f"{shlex.quote(sys.executable)} -c 'print(123456)'", lambda s: s.prep.code_command
    ),
}


def example_names() -> set[str]:
    """Every HTX_KEYS_* variable .env.example sets or shows (commented out)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*(HTX_KEYS_[A-Z_]+)=", text, re.M))


def test_every_tool_setting_in_env_example_is_walked() -> None:
    assert example_names() == set(CASES)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Runs `provision --note n` and returns what it set up (or its error line): the run is
    stopped right after every check that comes before a browser."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("HTX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setattr(KeyringSession, "load", lambda self: None)  # no saved login
    (tmp_path / "walk-accounts.toml").write_text(ACCOUNTS)
    (tmp_path / "walk-site.toml").write_text(SITE)
    seen: list[Seen] = []

    def stop_before_the_browser(run: WebRun, request: Any) -> Any:
        seen.append(Seen(run, request.note, run.prepare(creating=True)))
        raise ExitWith(0)

    monkeypatch.setattr(htx_keys.app.provisioning, "provision_one", stop_before_the_browser)

    def run(name: str, environ: dict[str, str], dotenv: str = "") -> Any:
        """`name` comes from `environ` or `dotenv` only (or is not set at all)."""
        case = CASES[name]
        (tmp_path / ".env").write_text(dotenv)
        fill = lambda text: text.replace("{tmp}", str(tmp_path))  # noqa: E731
        base = {k: v for k, v in {**BASE_ENV, **case.env}.items() if k != name}
        env = {k: fill(v) for k, v in {**base, **environ}.items()}
        seen.clear()
        result = invoke(["provision", "--note", "n", *map(fill, case.args)], env=env)
        if result.exit_code or not seen:
            return f"exit {result.exit_code}: {result.error}"
        return case.observe(seen[0])

    return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_setting_in_the_env_file_works_as_in_the_environment(
    name: str, setup: Callable[..., Any], tmp_path: Path
) -> None:
    case = CASES[name]
    value = case.value.replace("{tmp}", str(tmp_path))
    from_environment = setup(name, {name: value})
    from_env_file = setup(name, {}, dotenv=f"{name}={value}\n")
    without = setup(name, {})
    assert not str(from_environment).startswith("exit "), from_environment
    assert from_env_file == from_environment
    assert without != from_environment, f"{name} changes nothing: the case cannot show it"


# --- the commands that do not build a provisioning run read .env too --------------------------
@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("HTX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path


def test_logout_takes_the_session_from_the_env_file(clean: Path) -> None:
    (clean / ".env").write_text(
        f"HTX_EMAIL=user@example.test\nHTX_KEYS_SESSION=file:{clean}/saved.json\n"
    )
    (clean / "saved.json").write_text("{}")
    run = invoke(["logout"])
    assert run.exit_code == 0, run.output
    assert run.stdout == (
        f"Forgot the saved session of user@example.test (session file {clean}/saved.json)\n"
    )
    assert not (clean / "saved.json").exists()


def test_account_list_takes_the_accounts_file_and_secrets_from_the_env_file(clean: Path) -> None:
    (clean / "walk-accounts.toml").write_text(ACCOUNTS)
    (clean / ".env").write_text(
        f"HTX_KEYS_CONFIG={clean}/walk-accounts.toml\nHTX_PASSWORD_WALK=pw-walk-1234\n"
        "HTX_TOTP_SECRET_WALK=JBSWY3DPEHPK3PXP\nHTX_IMAP_PASSWORD_WALK=imap-walk-1234\n"
    )
    run = invoke(["account", "list", "--format", "json"])
    assert run.exit_code == 0, run.output
    held = {"password": "held", "totp_secret": "held", "imap_password": "held"}
    assert json.loads(run.stdout) == [
        {"name": "walk", "email": "walk@example.test", "secrets": held}
    ]


def test_the_replica_runs_take_the_browser_settings_from_the_env_file(clean: Path) -> None:
    """`demo` and `record` without --base-url: their made-up account, the user's browser."""
    (clean / ".env").write_text(
        "HTX_KEYS_BROWSER=/bin/sh\nHTX_KEYS_WS_ENDPOINT=ws://127.0.0.1:3000/\n"
    )
    assert browser_values({}) == {"browser": "/bin/sh", "ws_endpoint": "ws://127.0.0.1:3000/"}
    given = browser_values({"ws_endpoint": "wss://grid.example.com/", "browser": None})
    assert given == {"browser": "/bin/sh", "ws_endpoint": "wss://grid.example.com/"}
    (clean / ".env").write_text("HTX_KEYS_WS_ENDPOINT=ws://grid.example.com:3000/\n")
    with pytest.raises(ConfigError) as refused:
        browser_values({})
    assert refused.value.message.startswith("HTX_KEYS_WS_ENDPOINT 'ws://grid.example.com:3000/'")
    allowed = browser_values({"allow_insecure_transport": True})
    assert allowed["ws_endpoint"] == "ws://grid.example.com:3000/"
