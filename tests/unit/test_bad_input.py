"""A table of bad input: each kind gets its one exact line and its exit status, and neither a
browser, a mailbox nor any network connection starts first.

Values come from flags (exit 2, named by the flag), from the environment or the .env file
(exit 3, named by the variable) and from the accounts file (exit 3, named by its entry).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from automation.errors import ExitStatus
from tests.support.cli import invoke

USAGE, CONFIG = ExitStatus.USAGE, ExitStatus.CONFIG
GOOD_ENV = {
    "HTX_BASE_URL": "http://127.0.0.1:9",
    "HTX_API_URL": "http://127.0.0.1:9",
    "HTX_EMAIL": "user@example.test",
    "HTX_PASSWORD": "password-1234",
    "HTX_TOTP_SECRET": "JBSWY3DPEHPK3PXPJBSWY3DP",
    "HTX_IMAP_HOST": "127.0.0.1",
    "HTX_IMAP_PASSWORD": "imap-password-1234",
    "HTX_IMAP_SECURITY": "plain",
    "HTX_KEYS_STORE": "json:keys.json",
    "HTX_KEYS_SESSION": "none",
}
PROVISION = ["provision", "--note", "n"]
ALLOW = "--allow-insecure-transport (HTX_KEYS_ALLOW_INSECURE_TRANSPORT=1)"
ACCOUNTS = "[accounts.main]\nemail = 'main@example.test'\nimap_host = '127.0.0.1'\n"


@dataclass(frozen=True)
class Bad:
    """One kind of bad input. `{tmp}` in any text is the test's folder (also the cwd)."""

    args: list[str]
    status: int
    message: str
    env: dict[str, str | None] = field(default_factory=dict)  # None: unset
    dotenv: str | None = None  # the text of ./.env
    files: dict[str, str] = field(default_factory=dict)  # name under {tmp} -> text


def clear(label: str, url: str, secure: str = "https://") -> str:
    """The message for plain http:// or ws:// to another machine."""
    return (
        f"{label} {url!r} is not encrypted and not on this machine: use {secure}, "
        f"or allow it with {ALLOW}"
    )


def note(text: str, found: str, command: list[str] = PROVISION[:1]) -> Bad:
    return Bad(
        [*command, "--note", text],
        USAGE,
        f"--note must be one line of printable text; it holds {found}",
    )


def mail_timeout(raw: str, message: str) -> Bad:
    return Bad(PROVISION, CONFIG, message, env={"HTX_MAIL_TIMEOUT": raw})


def with_accounts(args: list[str], status: int, message: str) -> Bad:
    """Bad input to a command that reads the accounts file ({tmp}/accounts.toml: `main`)."""
    return Bad(
        args,
        status,
        message,
        files={"accounts.toml": ACCOUNTS},
        env={"HTX_KEYS_CONFIG": "{tmp}/accounts.toml"},
    )


def github(env: dict[str, str | None], message: str, args: list[str] = PROVISION) -> Bad:
    return Bad([*args, "--format", "github"], CONFIG, message, env=env)


CASES: dict[str, Bad] = {
    # --- notes: one line of printable text ----------------------------------------------------
    "note-newline": note("a\nb", "a line break (U+000A) at character 2"),
    "note-trailing-newline": note("bot\n", "a line break (U+000A) at character 4"),
    "note-carriage-return": note("a\rb", "a carriage return (U+000D) at character 2"),
    "note-tab": note("a\tb", "a tab (U+0009) at character 2"),
    "note-nul": note("a\x00b", "a control character (U+0000) at character 2"),
    "note-escape": note("\x1b[31mred", "a control character (U+001B) at character 1"),
    "note-delete": note("a\x7f", "a control character (U+007F) at character 2"),
    "note-c1-control": note("a\x85b", "a control character (U+0085) at character 2"),
    "note-right-to-left-override": note(
        "bot\u202etxt", "the right-to-left override (U+202E) at character 4"
    ),
    "note-zero-width-space": note("a\u200bb", "the zero width space (U+200B) at character 2"),
    "note-line-separator": note("a\u2028b", "the line separator (U+2028) at character 2"),
    "note-private-use": note("a\ue000", "a private-use character (U+E000) at character 2"),
    "note-keys-revoke": note("a\nb", "a line break (U+000A) at character 2", ["keys", "revoke"]),
    "note-keys-rotate": note("a\tb", "a tab (U+0009) at character 2", ["keys", "rotate"]),
    "note-exec": Bad(
        ["exec", "--note", "a\x1bb", "--", "sh"],
        USAGE,
        "--note must be one line of printable text; it holds a control character (U+001B) "
        "at character 2",
    ),
    "note-record": Bad(
        ["record", "--out", "{tmp}/guide", "--note", "a\nb"],
        USAGE,
        "--note must be one line of printable text; it holds a line break (U+000A) at character 2",
    ),
    "record-compare-nothing": Bad(
        ["record", "--out", "{tmp}/guide", "--compare", "{tmp}/old"],
        USAGE,
        "--compare {tmp}/old: no step pictures there (steps/NN-<step>.png of a guide "
        "`htx-keys record` wrote)",
    ),
    # --- numbers: finite, in range ------------------------------------------------------------
    "mail-timeout-nan": mail_timeout(
        "nan", "HTX_MAIL_TIMEOUT must be a finite number of seconds, not 'nan'"
    ),
    "mail-timeout-inf": mail_timeout(
        "inf", "HTX_MAIL_TIMEOUT must be a finite number of seconds, not 'inf'"
    ),
    "mail-timeout-minus-inf": mail_timeout(
        "-inf", "HTX_MAIL_TIMEOUT must be a finite number of seconds, not '-inf'"
    ),
    "mail-timeout-infinity": mail_timeout(
        "Infinity", "HTX_MAIL_TIMEOUT must be a finite number of seconds, not 'Infinity'"
    ),
    "mail-timeout-zero": mail_timeout("0", "HTX_MAIL_TIMEOUT must be more than 0 seconds"),
    "mail-timeout-word": mail_timeout(
        "soon", "HTX_MAIL_TIMEOUT must be a number of seconds, not 'soon'"
    ),
    "mail-timeout-nan-in-dotenv": Bad(
        PROVISION,
        CONFIG,
        "HTX_MAIL_TIMEOUT must be a finite number of seconds, not 'NaN'",
        dotenv="HTX_MAIL_TIMEOUT=NaN\n",
    ),
    "mail-timeout-nan-in-accounts-file": Bad(
        [*PROVISION, "--account", "main", "--config", "{tmp}/accounts.toml"],
        CONFIG,
        "{tmp}/accounts.toml: account 'main': mail_timeout must be a finite number of "
        "seconds, not 'nan'",
        files={"accounts.toml": ACCOUNTS + "mail_timeout = nan\n"},
    ),
    "timeout-nan": Bad(
        [*PROVISION, "--timeout", "nan"],
        USAGE,
        "Invalid value for '--timeout': 'nan' is not a finite number of seconds.",
    ),
    "timeout-inf": Bad(
        [*PROVISION, "--timeout", "inf"],
        USAGE,
        "Invalid value for '--timeout': 'inf' is not a finite number of seconds.",
    ),
    "chapter-seconds-nan": Bad(
        [*PROVISION, "--chapter-seconds", "nan"],
        USAGE,
        "Invalid value for '--chapter-seconds': 'nan' is not a finite number of seconds.",
    ),
    "doctor-timeout-minus-inf": Bad(
        ["doctor", "--timeout", "-inf"],
        USAGE,
        "Invalid value for '--timeout': '-inf' is not a finite number of seconds.",
    ),
    "login-captcha-timeout-nan": Bad(
        ["login", "--captcha-timeout", "nan"],
        USAGE,
        "Invalid value for '--captcha-timeout': 'nan' is not a finite number of seconds.",
    ),
    "expiring-within-overflow": Bad(
        ["keys", "list", "--expiring-within", "9" * 400 + "d"],
        USAGE,
        f"Invalid value for '--expiring-within': '{'9' * 400}d': too large; use a number of "
        "days like 14d",
    ),
    "min-age-overflow": Bad(
        PROVISION,
        CONFIG,
        "HTX_KEYS_MIN_AGE must be a duration like 10m, 90s or 1h, not that large",
        env={"HTX_KEYS_MIN_AGE": "9" * 400 + "m"},
    ),
    "min-age-flag-overflow": Bad(
        ["keys", "reconcile", "--min-age", "9" * 400],
        USAGE,
        "Invalid value for '--min-age': must be a duration like 10m, 90s or 1h, not that large",
    ),
    "imap-port-out-of-range": Bad(
        PROVISION,
        CONFIG,
        "HTX_IMAP_PORT must be between 1 and 65535, not 70000",
        env={"HTX_IMAP_PORT": "70000"},
    ),
    "imap-port-word": Bad(
        PROVISION,
        CONFIG,
        "HTX_IMAP_PORT must be a port number, not 'imaps'",
        env={"HTX_IMAP_PORT": "imaps"},
    ),
    "totp-period-zero": Bad(
        PROVISION,
        CONFIG,
        "HTX_TOTP_PERIOD must be at least 1 second, not 0",
        env={"HTX_TOTP_PERIOD": "0"},
    ),
    # --- site URLs: http(s) with a host ------------------------------------------------------
    "base-url-ftp": Bad(
        PROVISION,
        CONFIG,
        "HTX_BASE_URL 'ftp://www.htx.com' must start with http:// or https://",
        env={"HTX_BASE_URL": "ftp://www.htx.com"},
    ),
    "base-url-no-scheme": Bad(
        PROVISION,
        CONFIG,
        "HTX_BASE_URL 'www.htx.com' must start with http:// or https://",
        env={"HTX_BASE_URL": "www.htx.com"},
    ),
    "base-url-no-host": Bad(
        PROVISION,
        CONFIG,
        "HTX_BASE_URL 'https://' names no host",
        env={"HTX_BASE_URL": "https://"},
    ),
    "base-url-file-flag": Bad(
        [*PROVISION, "--base-url", "file:///etc/passwd"],
        USAGE,
        "--base-url 'file:///etc/passwd' must start with http:// or https://",
    ),
    "base-url-javascript-flag": Bad(
        [*PROVISION, "--base-url", "javascript:alert(1)"],
        USAGE,
        "--base-url 'javascript:alert(1)' must start with http:// or https://",
    ),
    "base-url-with-password": Bad(
        PROVISION,
        CONFIG,
        "HTX_BASE_URL 'https://www.htx.com' must not hold a user name or password",
        env={"HTX_BASE_URL": "https://me:hunter2@www.htx.com"},
    ),
    "base-url-bad-port": Bad(
        PROVISION,
        CONFIG,
        "HTX_BASE_URL 'https://www.htx.com:99999' is not a valid URL (Port out of range 0-65535)",
        env={"HTX_BASE_URL": "https://www.htx.com:99999"},
    ),
    "base-url-query": Bad(
        PROVISION,
        CONFIG,
        "HTX_BASE_URL 'https://www.htx.com/' must not hold a query or fragment (?... or #...)",
        env={"HTX_BASE_URL": "https://www.htx.com/?lang=en"},
    ),
    "api-url-mailto": Bad(
        PROVISION,
        CONFIG,
        "HTX_API_URL 'mailto:ops@example.com' must start with http:// or https://",
        env={"HTX_API_URL": "mailto:ops@example.com"},
    ),
    "api-url-no-host-in-dotenv": Bad(
        PROVISION,
        CONFIG,
        "HTX_API_URL 'http:///v1' names no host",
        env={"HTX_API_URL": None},
        dotenv="HTX_API_URL=http:///v1\n",
    ),
    # --- plain http:// and ws:// only to this machine ----------------------------------------
    "base-url-plain-http": Bad(
        PROVISION,
        CONFIG,
        clear("HTX_BASE_URL", "http://www.htx.com"),
        env={"HTX_BASE_URL": "http://www.htx.com"},
    ),
    "base-url-plain-http-flag": Bad(
        [*PROVISION, "--base-url", "http://10.0.0.5:8000"],
        USAGE,
        clear("--base-url", "http://10.0.0.5:8000"),
    ),
    "base-url-lookalike-of-loopback": Bad(
        PROVISION,
        CONFIG,
        clear("HTX_BASE_URL", "http://127.0.0.1.nip.io"),
        env={"HTX_BASE_URL": "http://127.0.0.1.nip.io"},
    ),
    "base-url-localhost-subdomain": Bad(
        PROVISION,
        CONFIG,
        clear("HTX_BASE_URL", "http://localhost.example.com"),
        env={"HTX_BASE_URL": "http://localhost.example.com"},
    ),
    "api-url-plain-http": Bad(
        PROVISION,
        CONFIG,
        clear("HTX_API_URL", "http://api.huobi.pro"),
        env={"HTX_API_URL": "http://api.huobi.pro"},
    ),
    "api-url-plain-http-in-accounts-file": Bad(
        [*PROVISION, "--account", "main", "--config", "{tmp}/accounts.toml"],
        CONFIG,
        clear("{tmp}/accounts.toml: account 'main': api_url", "http://api.huobi.pro"),
        env={"HTX_API_URL": None},
        files={"accounts.toml": ACCOUNTS + "api_url = 'http://api.huobi.pro'\n"},
    ),
    "verify-api-url-plain-http": Bad(
        ["verify", "--api-url", "http://api.huobi.pro"],
        USAGE,
        clear("--api-url", "http://api.huobi.pro"),
    ),
    "logout-base-url-plain-http": Bad(
        ["logout", "--base-url", "http://www.htx.com"],
        USAGE,
        clear("--base-url", "http://www.htx.com"),
    ),
    "cdp-endpoint-plain-http": Bad(
        [*PROVISION, "--cdp-endpoint", "http://10.0.0.7:9222"],
        USAGE,
        clear("--cdp-endpoint", "http://10.0.0.7:9222"),
    ),
    "cdp-endpoint-plain-ws-env": Bad(
        PROVISION,
        CONFIG,
        clear("HTX_KEYS_CDP_ENDPOINT", "ws://grid.example.com/devtools", "wss://"),
        env={"HTX_KEYS_CDP_ENDPOINT": "ws://grid.example.com/devtools?token=t0k3n"},
    ),
    "login-cdp-endpoint-plain-http": Bad(
        ["login", "--cdp-endpoint", "http://chrome.example.com:9222"],
        USAGE,
        clear("--cdp-endpoint", "http://chrome.example.com:9222"),
    ),
    "ws-endpoint-plain-ws": Bad(
        [*PROVISION, "--ws-endpoint", "ws://grid.example.com:3000/"],
        USAGE,
        clear("--ws-endpoint", "ws://grid.example.com:3000/", "wss://"),
    ),
    "ws-endpoint-plain-ws-in-dotenv": Bad(
        PROVISION,
        CONFIG,
        clear("HTX_KEYS_WS_ENDPOINT", "ws://10.1.2.3:3000/", "wss://"),
        dotenv="HTX_KEYS_WS_ENDPOINT=ws://10.1.2.3:3000/\n",
    ),
    "demo-ws-endpoint-plain-ws": Bad(
        ["demo", "--ws-endpoint", "ws://grid.example.com:3000/"],
        USAGE,
        clear("--ws-endpoint", "ws://grid.example.com:3000/", "wss://"),
    ),
    "ws-endpoint-http": Bad(
        [*PROVISION, "--ws-endpoint", "http://127.0.0.1:3000/"],
        USAGE,
        "--ws-endpoint 'http://127.0.0.1:3000/' must start with ws:// or wss://",
    ),
    "ws-endpoint-no-host": Bad(
        [*PROVISION, "--ws-endpoint", "wss://"],
        USAGE,
        "--ws-endpoint 'wss://' names no host",
    ),
    "cdp-endpoint-ftp": Bad(
        PROVISION,
        CONFIG,
        "HTX_KEYS_CDP_ENDPOINT 'ftp://127.0.0.1:9222' must start with http:// or https:// or "
        "ws:// or wss://",
        env={"HTX_KEYS_CDP_ENDPOINT": "ftp://127.0.0.1:9222"},
    ),
    "both-endpoints": Bad(
        [*PROVISION, "--cdp-endpoint", "http://127.0.0.1:9222", "--ws-endpoint", "ws://[::1]:3/"],
        USAGE,
        "Give --cdp-endpoint or --ws-endpoint, not both",
    ),
    "allow-insecure-transport-word": Bad(
        PROVISION,
        CONFIG,
        "HTX_KEYS_ALLOW_INSECURE_TRANSPORT must be 1 or 0 (true/false, yes/no, on/off), not "
        "'maybe'",
        env={"HTX_KEYS_ALLOW_INSECURE_TRANSPORT": "maybe"},
    ),
    # --- the saved session --------------------------------------------------------------------
    "session-unknown": Bad(
        PROVISION,
        CONFIG,
        "HTX_KEYS_SESSION must be keyring, file:PATH, env:VAR or none, not 'cookies'",
        env={"HTX_KEYS_SESSION": "cookies"},
    ),
    "session-file-without-path": Bad(
        [*PROVISION, "--session", "file:"],
        USAGE,
        "--session must be keyring, file:PATH, env:VAR or none, not 'file:'",
    ),
    "session-env-unset": Bad(
        [*PROVISION, "--session", "env:HTX_SESSION"],
        CONFIG,
        "HTX_SESSION is empty or not set (--session env:HTX_SESSION)",
    ),
    "session-env-not-exported": Bad(
        [*PROVISION, "--session", "env:HTX_SESSION"],
        CONFIG,
        "HTX_SESSION does not hold a session exported by `htx-keys login --export-session`",
        env={"HTX_SESSION": '{"cookies": []}'},
    ),
    "session-env-damaged": Bad(
        [*PROVISION, "--session", "env:HTX_SESSION"],
        CONFIG,
        "HTX_SESSION holds a damaged session: export it again",
        env={"HTX_SESSION": "htx-keys-session:1:bm90IGRlZmxhdGVk"},
    ),
    "session-env-bad-name": Bad(
        [*PROVISION, "--session", "env:1X"],
        USAGE,
        "--session must be keyring, file:PATH, env:VAR or none, not 'env:1X'",
    ),
    "login-export-with-session": Bad(
        ["login", "--export-session", "--session", "file:s.json"],
        USAGE,
        "--export-session prints the session; it goes with no --session",
    ),
    "login-into-env": Bad(
        ["login", "--session", "env:HTX_SESSION"],
        USAGE,
        "--session env:VAR is read-only: use `htx-keys login --export-session` and save what "
        "it prints in that variable",
    ),
    # --- leases --------------------------------------------------------------------------------
    "ttl-zero": Bad(
        [*PROVISION, "--ttl", "0s"],
        USAGE,
        "Invalid value for '--ttl': must be between 1s and 366d, not '0s'",
    ),
    "ttl-words": Bad(
        ["exec", "--ttl", "soon", "--", "true"],
        USAGE,
        "Invalid value for '--ttl': must be a duration like 2h, 30m or 90s, not 'soon'",
    ),
    "ttl-without-tag": Bad(
        [*PROVISION, "--ttl", "2h"],
        USAGE,
        "--ttl writes the lease into the tool's tag, and HTX_KEYS_NOTE_TAG is 'none'",
        env={"HTX_KEYS_NOTE_TAG": "none"},
    ),
    "ttl-note-already-tagged": Bad(
        ["provision", "--note", "n [htx-keys]", "--ttl", "2h"],
        USAGE,
        "--note already ends with the tool's tag [htx-keys]: give it without",
    ),
    "ttl-sub-user": Bad(
        [*PROVISION, "--ttl", "2h", "--sub-uid", "5"],
        USAGE,
        "--ttl is for the account's own keys (`keys reap`); not with --sub-uid",
    ),
    "reap-without-yes": Bad(
        ["keys", "reap"],
        USAGE,
        "keys reap asks before deleting and stdin is not a terminal: add --yes to delete "
        "without asking, or --dry-run to see what would be deleted",
    ),
    # --- GitHub outputs: writable before the key exists --------------------------------------
    "github-output-a-directory": github(
        {"GITHUB_OUTPUT": "{tmp}"},
        "--format github writes to $GITHUB_OUTPUT ({tmp}), which cannot be written: Is a directory",
    ),
    "github-output-in-a-missing-directory": github(
        {"GITHUB_OUTPUT": "{tmp}/gone/output"},
        "--format github writes to $GITHUB_OUTPUT ({tmp}/gone/output), which cannot be "
        "written: No such file or directory",
    ),
    "github-env-a-directory": Bad(
        [*PROVISION, "--format", "github", "--export-env"],
        CONFIG,
        "--format github writes to $GITHUB_ENV ({tmp}), which cannot be written: Is a directory",
        env={"GITHUB_OUTPUT": "{tmp}/output", "GITHUB_ENV": "{tmp}"},
    ),
    "github-output-rotate": github(
        {"GITHUB_OUTPUT": "{tmp}"},
        "--format github writes to $GITHUB_OUTPUT ({tmp}), which cannot be written: Is a directory",
        ["keys", "rotate", "AK"],
    ),
    # --- other settings ----------------------------------------------------------------------
    "imap-security-unknown": Bad(
        PROVISION,
        CONFIG,
        "HTX_IMAP_SECURITY must be one of tls, starttls, plain; not 'ssl'",
        env={"HTX_IMAP_SECURITY": "ssl"},
    ),
    "note-tag-with-space": Bad(
        PROVISION,
        CONFIG,
        "HTX_KEYS_NOTE_TAG must be 1-32 letters, digits, '.', '_' or '-' (or 'none'), not 'a b'",
        env={"HTX_KEYS_NOTE_TAG": "a b"},
    ),
    "browser-missing": Bad(
        PROVISION,
        CONFIG,
        "Browser not found or not executable: {tmp}/no-chrome",
        env={"HTX_KEYS_BROWSER": "{tmp}/no-chrome"},
    ),
    "site-file-missing-in-dotenv": Bad(
        PROVISION,
        CONFIG,
        "HTX_KEYS_SITE_FILE={tmp}/site.toml: no such file",
        dotenv="HTX_KEYS_SITE_FILE={tmp}/site.toml\n",
    ),
    "account-unknown-in-dotenv": Bad(
        PROVISION,
        CONFIG,
        "No account 'nobody' in {tmp}/accounts.toml; the accounts there are: main",
        dotenv="HTX_KEYS_ACCOUNT=nobody\nHTX_KEYS_CONFIG={tmp}/accounts.toml\n",
        files={"accounts.toml": ACCOUNTS},
    ),
    "env-file-missing": Bad(
        [*PROVISION, "--env-file", "{tmp}/missing.env"],
        USAGE,
        "--env-file {tmp}/missing.env: no such file",
    ),
    "store-unknown": Bad(
        PROVISION,
        USAGE,
        "Unknown store 's3:bucket': use keyring, json:PATH or env-file:PATH",
        env={"HTX_KEYS_STORE": "s3:bucket"},
    ),
    # --- several accounts: provision --accounts / --all-accounts ------------------------------
    "jobs-zero": with_accounts(
        [*PROVISION, "--accounts", "main", "--jobs", "0"],
        USAGE,
        "Invalid value for '--jobs': 0 is not in the range 1<=x<=16.",
    ),
    "jobs-without-accounts": Bad(
        [*PROVISION, "--jobs", "2"], USAGE, "--jobs goes with --accounts or --all-accounts"
    ),
    "accounts-with-account": Bad(
        [*PROVISION, "--accounts", "main", "--account", "main"],
        USAGE,
        "--accounts names the accounts: not with --account",
    ),
    "accounts-and-all-accounts": Bad(
        [*PROVISION, "--accounts", "main", "--all-accounts"],
        USAGE,
        "Give --accounts or --all-accounts, not both",
    ),
    "accounts-unknown": with_accounts(
        [*PROVISION, "--accounts", "main,nobody"],
        USAGE,
        "--accounts: No account 'nobody' in {tmp}/accounts.toml; the accounts there are: main",
    ),
    "accounts-twice": with_accounts(
        [*PROVISION, "--accounts", "main", "--accounts", "main"],
        USAGE,
        "--accounts names 'main' twice",
    ),
    "accounts-empty": Bad(
        [*PROVISION, "--accounts", ","], USAGE, "--accounts needs at least one account name"
    ),
    "all-accounts-no-file": Bad(
        [*PROVISION, "--all-accounts"],
        CONFIG,
        "--all-accounts: {tmp}/none.toml does not exist",
        env={"HTX_KEYS_CONFIG": "{tmp}/none.toml"},
    ),
    "accounts-with-count": Bad(
        [*PROVISION, "--accounts", "main", "--count", "2"],
        USAGE,
        "--count makes one account's keys: not with --accounts",
    ),
    "all-accounts-with-sub-uid": Bad(
        [*PROVISION, "--all-accounts", "--sub-uid", "5"],
        USAGE,
        "--sub-uid makes one account's keys: not with --all-accounts",
    ),
    "accounts-format-github": Bad(
        [*PROVISION, "--accounts", "main", "--format", "github"],
        USAGE,
        "--format github hands on one key: with --accounts use --format text or json",
    ),
    "several-endpoints-one-account": Bad(
        [*PROVISION, "--ws-endpoint", "ws://127.0.0.1:9/a,ws://127.0.0.1:9/b"],
        USAGE,
        "--ws-endpoint was given 2 endpoints: several go with provision --accounts or "
        "--all-accounts; give one",
    ),
    "accounts-endpoint-in-the-clear": with_accounts(
        [
            *PROVISION,
            "--accounts",
            "main",
            "--ws-endpoint",
            "ws://127.0.0.1:9/a",
            "--ws-endpoint",
            "ws://192.0.2.1:9/b",
        ],
        USAGE,
        clear("--ws-endpoint", "ws://192.0.2.1:9/b", "wss://"),
    ),
    "accounts-ws-and-cdp": with_accounts(
        [
            *PROVISION,
            "--accounts",
            "main",
            "--ws-endpoint",
            "ws://127.0.0.1:9/a",
            "--cdp-endpoint",
            "http://127.0.0.1:9",
        ],
        USAGE,
        "Give --cdp-endpoint or --ws-endpoint, not both",
    ),
}


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any browser start or network connection fails the test with its own message."""

    def no_browser(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a browser was started for bad input")

    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"a connection to {address} was opened for bad input")
        return real_connect(self, address)

    monkeypatch.setattr("playwright.sync_api.sync_playwright", no_browser)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)


def fill(text: str, tmp: Path) -> str:
    return text.replace("{tmp}", str(tmp))


@pytest.mark.usefixtures("no_connections")
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_one_line_with_its_status_before_anything_starts(
    case: Bad, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    import os

    for name in list(os.environ):
        if name.startswith(("HTX_", "GITHUB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("HTX_KEYS_STATE_DIR", str(tmp_path / "state"))
    for name, value in {**GOOD_ENV, **case.env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, fill(value, tmp_path))
    for name, text in case.files.items():
        (tmp_path / name).write_text(fill(text, tmp_path))
    if case.dotenv is not None:
        (tmp_path / ".env").write_text(fill(case.dotenv, tmp_path))
    run = invoke([fill(arg, tmp_path) for arg in case.args])
    assert run.exit_code == case.status, run.output
    assert run.stdout == ""
    assert run.stderr == f"htx-keys: error: {fill(case.message, tmp_path)}\n"


def test_the_table_is_long_enough() -> None:
    assert len(CASES) >= 45
