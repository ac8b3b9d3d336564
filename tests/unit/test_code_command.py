"""The code command without a browser: what it is told, what it may print, how it fails, and
what it changes before a run starts (settings, preflight, doctor, the flags)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import htx_keys.app.code_sources
import htx_keys.app.provisioning
from automation.code_command import CodeCommand, CommandCodes, find_code_command, sent_at_text
from automation.config import Settings, load_settings
from automation.errors import CodeCommandError, ConfigError, ExitStatus, InputError
from automation.redaction import REDACTOR
from automation.schema import split_command_line, without_secrets
from htx_keys.app.checks import check_code_command, check_settings_rows
from htx_keys.app.preflight import needed_settings, prepare
from htx_keys.app.web_run import run_secret_names
from tests.support.cli import invoke
from tests.support.procs import alive

SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"


def python(tmp_path: Path, source: str) -> CodeCommand:
    """A code command: this Python running a script written for the test."""
    script = tmp_path / f"cmd{len(list(tmp_path.glob('cmd*.py')))}.py"
    script.write_text(source)
    return CodeCommand((sys.executable, str(script)))


def codes(command: CodeCommand, kind: Any = "email", **extra: Any) -> CommandCodes:
    return CommandCodes(command, kind, "alice@example.test", poll_interval=0.1, **extra)


# --- what the command is told ------------------------------------------------------------------
def test_the_command_is_told_kind_time_account_and_attempt_and_gets_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = tmp_path / "seen.jsonl"
    command = python(
        tmp_path,
        "import json, os, sys\n"
        f"with open({str(seen)!r}, 'a') as f:\n"
        "    f.write(json.dumps({**dict(os.environ), 'argv': sys.argv[1:]}) + '\\n')\n"
        "first = os.environ['HTX_CODE_ATTEMPT'] == '1'\n"
        "print('Your code: ' + ('123456' if first else '654321'))\n",
    )
    for name in ("HTX_PASSWORD", "HTX_TOTP_SECRET", "HTX_IMAP_PASSWORD", "HTX_PASSWORD_MAIN"):
        monkeypatch.setenv(name, "do-not-pass-this")
    monkeypatch.setenv("GATEWAY_TOKEN", "the command's own setting")
    source = codes(command, "sms", clock=lambda: 1_767_268_800.9)  # 2026-01-01T12:00:00.9Z
    source.mark()
    assert source.wait_for_code(timeout=30) == "123456"
    assert source.wait_for_code(timeout=30) == "654321"  # HTX refused the first: ask again
    first, second = (json.loads(line) for line in seen.read_text().splitlines())
    assert first["HTX_CODE_KIND"] == "sms"
    assert first["HTX_CODE_SENT_AT"] == "2026-01-01T12:00:00Z"
    assert first["HTX_CODE_ACCOUNT"] == "alice@example.test"
    assert (first["HTX_CODE_ATTEMPT"], second["HTX_CODE_ATTEMPT"]) == ("1", "2")
    assert 25 <= int(first["HTX_CODE_TIMEOUT"]) <= 30
    assert first["GATEWAY_TOKEN"] == "the command's own setting"
    assert first["argv"] == []
    assert "do-not-pass-this" not in seen.read_text()
    assert REDACTOR.scrub("123456 654321") == f"{REDACTOR.MASK} {REDACTOR.MASK}"


def test_sent_at_is_utc_whole_seconds_rounded_down() -> None:
    assert sent_at_text(1_767_268_799.999) == "2026-01-01T11:59:59Z"
    parsed = dt.datetime.fromisoformat(sent_at_text(time.time()))
    assert parsed.tzinfo is not None and parsed.utcoffset() == dt.timedelta(0)


def test_without_secrets_leaves_every_other_variable() -> None:
    env = {
        "HTX_PASSWORD": "a",
        "HTX_PASSWORD_WORK": "b",
        "HTX_TOTP_SECRET": "c",
        "HTX_IMAP_PASSWORD_WORK": "d",
        "HTX_EMAIL": "me@example.test",
        "HTX_PASSWORDLESS": "kept: not a per-account form",
        "PATH": "/usr/bin",
    }
    assert without_secrets(env) == {
        "HTX_EMAIL": "me@example.test",
        "HTX_PASSWORDLESS": "kept: not a per-account form",
        "PATH": "/usr/bin",
    }


def test_a_code_already_tried_makes_it_ask_again_until_the_time_is_up(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    command = python(tmp_path, f"open({str(runs)!r}, 'a').write('x')\nprint('111222')\n")
    source = codes(command)
    source.mark()
    assert source.wait_for_code(timeout=10) == "111222"
    with pytest.raises(CodeCommandError) as err:
        source.wait_for_code(timeout=2)
    assert err.value.message == (
        f"The code command ({command.name}) printed only email codes HTX already refused, for 2 s"
    )
    assert err.value.exit_status == ExitStatus.CODE_COMMAND == 16
    assert len(runs.read_text()) >= 2
    source.mark()  # a new Send: the same code may be handed out again
    assert source.wait_for_code(timeout=10) == "111222"


def test_mark_comes_first(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        codes(python(tmp_path, "print('123456')")).wait_for_code(timeout=5)


# --- how it fails ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "import sys\nprint('gateway said no', file=sys.stderr)\nsys.exit(3)",
            "exited with status 3: gateway said no",
        ),
        pytest.param(
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
            "was ended by signal 9",
            marks=pytest.mark.skipif(os.name != "posix", reason="POSIX signals"),
        ),
        ("print('no code yet')", "printed no 6-digit email code"),
        ("import sys\nprint('not yet', file=sys.stderr)", "printed no 6-digit email code: not yet"),
        ("print('1234567 or 12345')", "printed no 6-digit email code"),
        ("print('123456\\n654321')", "printed 2 different 6-digit numbers; it must print one code"),
    ],
)
def test_a_failing_command_is_one_line_with_its_own_status(
    tmp_path: Path, source: str, message: str
) -> None:
    command = python(tmp_path, source)
    runner = codes(command)
    runner.mark()
    with pytest.raises(CodeCommandError) as err:
        runner.wait_for_code(timeout=30)
    assert err.value.message == f"The code command ({command.name}) {message}"
    assert err.value.exit_status == 16


def test_its_stderr_is_shown_scrubbed_and_short(tmp_path: Path) -> None:
    REDACTOR.add("gateway-token-8d7f6e", label="test secret")
    command = python(
        tmp_path,
        "import sys\n"
        "print('first line\\n\\n  token gateway-token-8d7f6e   refused 654321 ' + 'x' * 300, "
        "file=sys.stderr)\nsys.exit(1)",
    )
    runner = codes(command)
    runner.mark()
    with pytest.raises(CodeCommandError) as err:
        runner.wait_for_code(timeout=30)
    shown = err.value.message.split("exited with status 1: ", 1)[1]
    assert shown.startswith(f"token {REDACTOR.MASK} refused {REDACTOR.MASK} xxx")
    assert shown.endswith("…") and len(shown) == 160
    assert "\n" not in err.value.message


@pytest.mark.skipif(os.name != "posix", reason="its own process session: POSIX only")
def test_a_command_that_takes_too_long_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    command = python(
        tmp_path,
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n",
    )
    progress: list[str] = []
    runner = codes(command, on_progress=progress.append)
    runner.mark()
    started = time.monotonic()
    with pytest.raises(CodeCommandError) as err:
        runner.wait_for_code(timeout=1.5)
    assert time.monotonic() - started < 15
    assert err.value.message == f"The code command ({command.name}) gave no email code within 1.5 s"
    assert "HTX_MAIL_TIMEOUT" in (err.value.hint or "")
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the command's own child was left running"


# --- the command line --------------------------------------------------------------------------
def test_the_command_line_is_split_like_a_shell_line_and_its_program_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = find_code_command(f"{shlex.quote(sys.executable)} -c 'print(123456)'", "X")
    assert found.argv == (sys.executable, "-c", "print(123456)")
    here = Path(sys.executable).parent
    monkeypatch.setenv("PATH", f"{here}{os.pathsep}{os.environ.get('PATH', '')}")
    found = find_code_command(f"{Path(sys.executable).name} --kind", "X")  # found on PATH
    assert Path(found.argv[0]).parent == here and found.argv[1:] == ("--kind",)
    if os.name == "posix":
        script = tmp_path / "my codes"
        script.write_text("#!/bin/sh\necho 123456\n")
        with pytest.raises(ConfigError, match=r"^X: .*my codes is not an executable file$"):
            find_code_command(shlex.quote(str(script)), "X")
        script.chmod(0o700)
        assert find_code_command(shlex.quote(str(script)), "X").argv == (str(script),)


def test_on_windows_backslashes_stay_and_quotes_group() -> None:
    line = r'"C:\Program Files\codes\fetch.exe" --to \\gw\sms' + " 'two words'"
    assert split_command_line(line, windows=True) == [
        r"C:\Program Files\codes\fetch.exe",
        "--to",
        r"\\gw\sms",
        "two words",
    ]
    assert split_command_line(r"fetch --to a\ b", windows=False) == ["fetch", "--to", "a b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fetch 'unclosed", "X cannot be split into words: No closing quotation"),
        ("   ", "X is empty"),
        ("no-such-program-here --kind", "X: no-such-program-here: command not found (on PATH)"),
        ("/nonexistent/fetch", "X: /nonexistent/fetch is not an executable file"),
    ],
)
def test_a_bad_command_line_is_a_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        find_code_command(text, "X")
    assert err.value.message == message
    with pytest.raises(InputError):
        find_code_command(text, "X", error=InputError)


def test_the_setting_comes_from_the_environment_and_is_checked_there(tmp_path: Path) -> None:
    settings = load_settings(environ={"HTX_KEYS_CODE_COMMAND": "fetch-code --json"})
    assert settings.code_command == "fetch-code --json"
    with pytest.raises(ConfigError) as err:
        load_settings(environ={"HTX_KEYS_CODE_COMMAND": 'fetch "'})
    assert err.value.message == (
        "HTX_KEYS_CODE_COMMAND cannot be split into words: No closing quotation"
    )


def test_an_account_may_have_its_own_code_command(tmp_path: Path) -> None:
    config = tmp_path / "accounts.toml"
    config.write_text('[accounts.main]\nemail = "a@example.test"\ncode_command = "sms-gw a"\n')
    environ = {"HTX_KEYS_CODE_COMMAND": "", "HTX_PASSWORD_MAIN": "x"}
    settings = load_settings(environ=environ, account="main", config_file=config)
    assert settings.code_command == "sms-gw a"


# --- before a run ------------------------------------------------------------------------------
def settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": "http://127.0.0.1:9",
        "email": "alice@example.test",
        "password": "password-1234",
        "totp_secret": SEED,
        "code_command": f"{shlex.quote(sys.executable)} -c pass",
    }
    values.update(changes)
    return Settings(**values)


def test_with_a_code_command_and_no_mailbox_the_imap_settings_are_not_needed(
    tmp_path: Path,
) -> None:
    prep = prepare(settings(state_dir=tmp_path), None, None)
    assert prep.mail is None
    assert prep.code_command is not None and prep.code_command.argv[1:] == ("-c", "pass")
    assert "imap_password" not in run_secret_names(None, settings())
    assert needed_settings(settings(), saved_session=True) == ("email", "totp_secret")


def test_with_an_imap_host_the_mailbox_still_reads_email_codes() -> None:
    with pytest.raises(ConfigError, match=r"^Missing setting HTX_IMAP_PASSWORD: "):
        prepare(settings(imap_host="127.0.0.1"), None, None)
    assert "imap_password" in run_secret_names(None, settings(imap_host="127.0.0.1"))


def test_without_a_code_command_the_imap_settings_are_needed() -> None:
    with pytest.raises(ConfigError, match=r"^Missing settings HTX_IMAP_HOST, HTX_IMAP_PASSWORD"):
        prepare(settings(code_command=None), None, None)


def test_doctor_shows_the_code_command_and_what_it_gives() -> None:
    rows, mail = check_settings_rows(settings())
    assert mail is None
    assert [(r.check, r.result) for r in rows] == [
        ("settings", "pass"),
        ("TOTP seed", "pass"),
        ("mail settings", "skip"),
    ]
    assert rows[2].detail == "not used: email codes come from the code command"
    row = check_code_command(settings())
    assert (row.check, row.result) == ("code command", "pass")
    assert row.detail == (
        f"{shlex.quote(sys.executable)} -c pass (email and SMS codes; runs {sys.executable})"
    )
    row = check_code_command(settings(imap_host="imap.example.test"))
    assert row.detail.endswith(f"-c pass (SMS codes; runs {sys.executable})")
    row = check_code_command(settings(code_command="no-such-program-here"))
    assert (row.result, row.detail) == (
        "FAIL",
        "HTX_KEYS_CODE_COMMAND: no-such-program-here: command not found (on PATH)",
    )
    row = check_code_command(settings(code_command=None))
    assert (row.result, row.detail) == (
        "skip",
        "HTX_KEYS_CODE_COMMAND is not set: SMS codes need a person",
    )


# --- the command line tool ---------------------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings for `provision` with no mailbox; nothing may start (no browser, no command)."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("HTX_"):
            monkeypatch.delenv(name)
    values = {
        "HTX_BASE_URL": "http://127.0.0.1:9",
        "HTX_EMAIL": "user@example.test",
        "HTX_PASSWORD": "password-1234",
        "HTX_TOTP_SECRET": SEED,
        "HTX_KEYS_STORE": "json:keys.json",
        "HTX_KEYS_SESSION": "none",
        "HTX_KEYS_STATE_DIR": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    def nothing_may_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("something started for bad input")

    monkeypatch.setattr(htx_keys.app.provisioning, "open_page", nothing_may_start)
    monkeypatch.setattr(htx_keys.app.code_sources, "Inbox", nothing_may_start)
    monkeypatch.setattr(htx_keys.app.code_sources, "CommandCodes", nothing_may_start)
    return values


@pytest.mark.parametrize(
    ("flag", "environment", "status", "message"),
    [
        (
            "no-such-program-here",
            None,
            ExitStatus.USAGE,
            "--code-command: no-such-program-here: command not found (on PATH)",
        ),
        ("fetch 'x", None, ExitStatus.USAGE, "--code-command cannot be split into words: "),
        (
            None,
            "no-such-program-here",
            ExitStatus.CONFIG,
            "HTX_KEYS_CODE_COMMAND: no-such-program-here: command not found (on PATH)",
        ),
        (None, None, ExitStatus.CONFIG, "Missing settings HTX_IMAP_HOST, HTX_IMAP_PASSWORD: "),
    ],
)
def test_provision_refuses_a_bad_code_command_before_anything_starts(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    environment: str | None,
    status: int,
    message: str,
) -> None:
    if environment is not None:
        monkeypatch.setenv("HTX_KEYS_CODE_COMMAND", environment)
    args = ["provision", "--note", "n", *(["--code-command", flag] if flag else [])]
    r = invoke(args)
    assert r.exit_code == status, r.output
    assert r.error.startswith(message), r.output
    assert r.stderr.count("\n") == 1, r.output


def test_the_accounts_file_and_dotenv_name_their_own_bad_code_command(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("HTX_KEYS_CODE_COMMAND=fetch 'x\n")
    r = invoke(["provision", "--note", "n"])
    assert (r.exit_code, r.error) == (
        ExitStatus.CONFIG,
        "HTX_KEYS_CODE_COMMAND cannot be split into words: No closing quotation",
    ), r.output
    (tmp_path / ".env").unlink()
    config = tmp_path / "accounts.toml"
    config.write_text('[accounts.main]\nemail = "a@example.test"\ncode_command = "a \'b"\n')
    r = invoke(["provision", "--note", "n", "--account", "main", "--config", str(config)])
    assert (r.exit_code, r.error) == (
        ExitStatus.CONFIG,
        f"{config}: account 'main': code_command cannot be split into words: No closing quotation",
    ), r.output
