"""Bad input fails with one line and its own exit status, before any browser starts."""

from pathlib import Path

import pytest

import htx_keys.app.provisioning
from automation.errors import ExitStatus
from tests.support.cli import Invoked, invoke

GOOD_ENV = {
    "HTX_BASE_URL": "http://127.0.0.1:9",
    "HTX_EMAIL": "user@example.test",
    "HTX_PASSWORD": "password-1234",
    "HTX_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DP",
    "HTX_IMAP_HOST": "127.0.0.1",
    "HTX_IMAP_PASSWORD": "imap-password-1234",
    "HTX_IMAP_SECURITY": "plain",
    "HTX_KEYS_STORE": "json:keys.json",
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    others = [
        "HTX_IMAP_USER",
        "HTX_IMAP_PORT",
        "HTX_IMAP_CA_FILE",
        "HTX_MAIL_FROM",
        "HTX_KEYS_BROWSER",
        "HTX_TOTP_PERIOD",
    ]
    for name in [*GOOD_ENV, *others]:
        monkeypatch.delenv(name, raising=False)
    for name, value in GOOD_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HTX_KEYS_STATE_DIR", str(tmp_path / "state"))

    def no_browser(*args, **kwargs):
        raise AssertionError("a browser was started for bad input")

    monkeypatch.setattr(htx_keys.app.provisioning, "open_page", no_browser)
    monkeypatch.setattr(htx_keys.app.provisioning, "Inbox", no_browser)
    return GOOD_ENV


def provision(*args: str) -> Invoked:
    return invoke(["provision", *args])


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--note", "n", "--ip", "1.2.3.999"], ExitStatus.USAGE, "Invalid IP address: 1.2.3.999"),
        (
            ["--note", "n", "--ip", ",".join(f"10.1.1.{i}" for i in range(21))],
            ExitStatus.USAGE,
            "21 IP addresses given; HTX links at most 20 to one key",
        ),
        (
            ["--note", "n", "-p", "futures"],
            ExitStatus.USAGE,
            "Unknown permission 'futures': use read, trade or withdraw",
        ),
        (
            ["--note", ""],
            ExitStatus.USAGE,
            "--note is required and cannot be empty (HTX makes the note compulsory)",
        ),
        (
            ["--note", "x" * 300],
            ExitStatus.USAGE,
            "--note is 300 characters long; HTX allows at most 255",
        ),
        (
            ["--note", "n", "-p", "withdraw"],
            ExitStatus.USAGE,
            "The withdraw permission needs --allow-withdraw (a key that can withdraw can move "
            "funds out of the account)",
        ),
        (
            ["--note", "n", "--store", "s3:bucket"],
            ExitStatus.USAGE,
            "Unknown store 's3:bucket': use keyring, json:PATH or env-file:PATH",
        ),
        ([], ExitStatus.USAGE, "Missing option '--note'."),
        (["--note", "n", "--password", "x"], ExitStatus.USAGE, "No such option '--password'."),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    env: dict[str, str],
    args: list[str],
    status: int,
    message: str,
) -> None:
    run = provision(*args)
    assert run.exit_code == status, run.output
    assert run.stdout == ""
    assert run.stderr == f"htx-keys: error: {message}\n"


def test_missing_setting(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTX_PASSWORD")
    run = provision("--note", "n")
    assert run.exit_code == ExitStatus.CONFIG, run.output
    assert run.stderr == (
        "htx-keys: error: Missing setting HTX_PASSWORD: set it in the environment or "
        "in a .env file (see .env.example)\n"
    )


def test_malformed_totp_seed(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTX_TOTP_SECRET", "not-base32!!")
    run = provision("--note", "n")
    assert run.exit_code == ExitStatus.CONFIG, run.output
    assert run.stderr.count("\n") == 1
    assert run.stderr.startswith("htx-keys: error: HTX_TOTP_SECRET ")
    assert "not-base32" not in run.stderr


def test_plain_imap_to_a_remote_host_is_refused(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTX_IMAP_HOST", "imap.example.com")
    run = provision("--note", "n")
    assert run.exit_code in (ExitStatus.CONFIG, ExitStatus.USAGE), run.output
    assert run.stderr.count("\n") == 1 and "plain" in run.stderr.lower()


def test_a_short_totp_period_for_the_live_site_is_refused_before_a_browser(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTX_TOTP_PERIOD", "5")  # HTX_API_URL: the live API by default
    run = provision("--note", "n")
    assert run.exit_code == ExitStatus.CONFIG, run.output
    assert run.stdout == ""
    assert run.stderr == (
        "htx-keys: error: HTX_TOTP_PERIOD=5 is for a sandbox on this machine only, and "
        "https://api.huobi.pro is not a loopback address (HTX uses 30 s)\n"
    )


def test_good_input_reaches_the_mailbox_step(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stubbed Inbox raises: proves every pre-browser check passed for good input.
    monkeypatch.setenv("HTX_KEYS_DEBUG", "1")  # the stub's traceback is printed
    run = provision("--note", "ok", "-p", "trade", "--ip", "10.0.0.0/24")
    assert run.exit_code == ExitStatus.ERROR, run.output
    assert "AssertionError: a browser was started for bad input" in run.stderr


def test_the_debug_traceback_is_scrubbed(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    password = env["HTX_PASSWORD"]

    def refused(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"the server said: bad password {password}")

    monkeypatch.setattr(htx_keys.app.provisioning, "Inbox", refused)
    monkeypatch.setenv("HTX_KEYS_DEBUG", "1")
    run = provision("--note", "ok")
    assert run.exit_code == ExitStatus.ERROR, run.output
    assert run.stdout == ""
    assert "\nTraceback (most recent call last):\n" in run.stderr, run.stderr
    assert password not in run.stderr
    assert run.stderr.splitlines()[-2:] == [
        "RuntimeError: the server said: bad password ********",
        "htx-keys: error: unexpected RuntimeError: the server said: bad password ********",
    ]


def test_unexpected_errors_are_one_scrubbed_line(env: dict[str, str]) -> None:
    run = provision("--note", "ok")
    assert run.exit_code == ExitStatus.ERROR, run.output
    assert run.stdout == ""
    assert run.stderr.splitlines()[-2:] == [
        "htx-keys: error: unexpected AssertionError: a browser was started for bad input",
        "htx-keys: hint: run again with HTX_KEYS_DEBUG=1 for the traceback",
    ]


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["provision", "--note", "n", "--format", "env"],
            ExitStatus.USAGE,
            "--format env prints the secret key: add --show-secret to allow it",
        ),
        (
            ["provision", "--note", "n", "--export-env"],
            ExitStatus.USAGE,
            "--export-env goes with --format github",
        ),
        (
            ["provision", "--note", "n", "--format", "github"],
            ExitStatus.CONFIG,
            "--format github writes to $GITHUB_OUTPUT, which is not set (GitHub Actions sets it "
            "in every step)",
        ),
        (
            ["provision", "--note", "n", "--allow-duplicate"],
            ExitStatus.USAGE,
            "--allow-duplicate goes with --count",
        ),
        (
            ["provision", "--note", "n", "--count", "21"],
            ExitStatus.USAGE,
            "Invalid value for '--count': 21 is not in the range 1<=x<=20.",
        ),
        (
            ["provision", "--note", "n", "--count", "2", "--store", "env-file:k.env"],
            ExitStatus.USAGE,
            "{cwd}/k.env holds one key; use --store keyring or json:PATH for --count 2",
        ),
        (
            ["keys", "revoke"],
            ExitStatus.USAGE,
            "Name the key by its ACCESS_KEY or by --note NOTE (one of the two)",
        ),
        (
            ["keys", "rotate", "AK", "--note", "n"],
            ExitStatus.USAGE,
            "Name the key by its ACCESS_KEY or by --note NOTE (one of the two)",
        ),
        (
            ["keys", "rotate", "AK", "--store", "env-file:k.env"],
            ExitStatus.USAGE,
            "{cwd}/k.env holds one key, and rotating needs room for the new one "
            "beside the old: use --store keyring or json:PATH",
        ),
        (
            ["keys", "list", "--expiring-within", "soon"],
            ExitStatus.USAGE,
            "Invalid value for '--expiring-within': 'soon': use a number of days like 14d, 36h "
            "or 2w",
        ),
        (
            ["exec", "--", "no-such-program-here"],
            ExitStatus.USAGE,
            "no-such-program-here: command not found (on PATH)",
        ),
        (["exec"], ExitStatus.USAGE, "Missing argument 'COMMAND...'."),
        (
            ["exec", "--parent-key", "AK", "--", "sh"],
            ExitStatus.USAGE,
            "--parent-key goes with --sub-uid",
        ),
        (
            ["keys", "list", "--parent-key", "AK"],
            ExitStatus.USAGE,
            "--parent-key goes with --sub-uid",
        ),
        (
            ["keys", "list", "--sub-uid", "5", "--source", "web"],
            ExitStatus.USAGE,
            "--source is for the account's own keys; not with --sub-uid",
        ),
        (
            ["provision", "--note", "n", "--parent-key", "AK"],
            ExitStatus.USAGE,
            "--parent-key goes with --sub-uid",
        ),
    ],
)
def test_lifecycle_commands_refuse_bad_input_before_a_browser(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    status: int,
    message: str,
) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    run = invoke(args)
    assert run.exit_code == status, run.output
    assert run.stdout == ""
    assert run.stderr == f"htx-keys: error: {message.replace('{cwd}', str(Path.cwd()))}\n"


def test_revoking_a_sub_users_key_needs_its_sub_uid(env: dict[str, str]) -> None:
    from automation.store import JsonStore, KeyRecord

    record = KeyRecord(
        access_key="SUBKEY",
        secret_key="s" * 32,
        account=GOOD_ENV["HTX_EMAIL"],
        note="n",
        permissions=["read"],
        ip_addresses=[],
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
        sub_uid=7,
    )
    JsonStore(Path("keys.json").absolute()).save(record)
    run = invoke(["keys", "revoke", "SUBKEY"])
    assert run.exit_code == ExitStatus.USAGE, run.output
    assert run.stdout == ""
    assert run.stderr == "htx-keys: error: Key SUBKEY belongs to sub-user 7: add --sub-uid 7\n"
