"""Named accounts: the accounts file, precedence, per-account secrets, `htx-keys account`."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from click.testing import CliRunner
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from automation import accounts
from automation.accounts import ACCOUNTS_SERVICE, accounts_path, read_accounts
from automation.accounts_file import toml_value
from automation.config import load_settings
from automation.errors import ConfigError, ExitStatus
from automation.redaction import REDACTOR
from htx_keys.cli.options import account_options
from tests.support.cli import Invoked, invoke

SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"
FULL = """\
# the accounts of this machine
[accounts.main]
email = "me@example.com"
base_url = "https://www.htx.com/"
api_url = "https://api.huobi.pro"
imap_host = "imap.gmail.com"
imap_port = 993
imap_user = "me@example.com"
imap_security = "TLS"
imap_ca_file = "certs/ca.pem"
mail_from = "*@htx.com"
store = "keyring"
permissions = ["read", "trade"]
ip_addresses = ["203.0.113.7"]

[accounts.work-2]
email = "work@example.com"
imap_host = "mail.example.com"
"""


class MemoryKeyring(KeyringBackend):
    """An in-memory keyring, so no test touches a real one."""

    priority = -1  # never chosen by detection; set explicitly

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.entries.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    for name in list(os.environ):
        if name.startswith("HTX_"):
            monkeypatch.delenv(name)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    keyring.set_keyring(previous)


def write(tmp_path: Path, text: str = FULL) -> Path:
    path = tmp_path / "accounts.toml"
    path.write_text(text)
    return path


def put(backend: MemoryKeyring, name: str, **secrets: str) -> None:
    for setting, value in secrets.items():
        backend.entries[(ACCOUNTS_SERVICE, f"{name}/{setting}")] = value


def load(path: Path, environ: dict[str, str] | None = None, **kwargs: object):
    return load_settings({}, None, environ or {}, config_file=path, **kwargs)  # type: ignore[arg-type]


# --- the file ------------------------------------------------------------------------------


def test_parses_every_key_with_the_settings_converters(tmp_path: Path) -> None:
    path = write(tmp_path)
    found = read_accounts(path)
    assert list(found) == ["main", "work-2"]
    main = found["main"]
    assert main.entries == {
        "email": "me@example.com",
        "base_url": "https://www.htx.com",
        "api_url": "https://api.huobi.pro",
        "imap_host": "imap.gmail.com",
        "imap_port": 993,
        "imap_user": "me@example.com",
        "imap_security": "tls",
        "imap_ca_file": tmp_path / "certs" / "ca.pem",  # relative to the file
        "mail_from": "*@htx.com",
        "store": "keyring",
    }
    assert main.permissions == ("read", "trade")
    assert main.ip_addresses == ("203.0.113.7",)
    assert found["work-2"].permissions == ()


def one_account(body: str) -> str:
    return f'[accounts.main]\nemail = "me@example.com"\n{body}\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            one_account('password = "hunter2"'),
            "{path}: account 'main': password: passwords do not belong in this file; "
            "use `htx-keys account set main`",
        ),
        (
            one_account('totp_secret = "JBSWY3DP"'),
            "{path}: account 'main': totp_secret: TOTP seeds do not belong in this file; "
            "use `htx-keys account set main`",
        ),
        (
            one_account('imap_password = "x"'),
            "{path}: account 'main': imap_password: passwords do not belong in this file; "
            "use `htx-keys account set main`",
        ),
        (
            one_account('colour = "blue"'),
            "{path}: account 'main': unknown key 'colour' (known keys: api_url, base_url, "
            "browser, code_command, email, imap_auth, imap_ca_file, imap_host, "
            "imap_oauth_auth_url, imap_oauth_client_id, imap_oauth_device_url, "
            "imap_oauth_provider, imap_oauth_scope, "
            "imap_oauth_tenant, imap_oauth_token_command, imap_oauth_token_url, imap_port, "
            "imap_security, imap_user, ip_addresses, mail_code_pattern, mail_from, mail_timeout, "
            "note_tag, permissions, state_dir, store)",
        ),
        (
            one_account('imap_oauth_refresh_token = "1//0abc"'),
            "{path}: account 'main': imap_oauth_refresh_token: OAuth2 refresh tokens do not "
            "belong in this file; use `htx-keys mail login --account main` or "
            "HTX_IMAP_OAUTH_REFRESH_TOKEN_MAIN",
        ),
        (
            one_account('imap_port = "imap"'),
            "{path}: account 'main': imap_port must be a port number, not 'imap'",
        ),
        (
            one_account("imap_port = 70000"),
            "{path}: account 'main': imap_port must be between 1 and 65535, not 70000",
        ),
        (
            one_account('imap_security = "ssl"'),
            "{path}: account 'main': imap_security must be one of tls, starttls, plain; not 'ssl'",
        ),
        (
            one_account("mail_timeout = 0"),
            "{path}: account 'main': mail_timeout must be more than 0 seconds",
        ),
        (one_account("imap_host = 7"), "{path}: account 'main': imap_host must be a string"),
        (one_account("imap_port = true"), "{path}: account 'main': imap_port must be a number"),
        (one_account('imap_host = " "'), "{path}: account 'main': imap_host is empty"),
        (
            one_account('permissions = "trade"'),
            "{path}: account 'main': permissions must be a list of non-empty strings",
        ),
        (
            '[accounts."my account"]\nemail = "a@b.c"\n',
            "{path}: account name 'my account' may hold only letters, digits, '_' and '-'",
        ),
        ("[accounts]\nmain = 3\n", "{path}: account 'main' must be a table ([accounts.main])"),
        ("accounts = 3\n", "{path}: 'accounts' must hold [accounts.NAME] tables"),
        (
            '[account.main]\nemail = "a@b.c"\n',
            "{path}: unknown key 'account'; accounts go in [accounts.NAME] tables",
        ),
        (
            "[accounts.a-b]\n[accounts.a_b]\n",
            "{path}: accounts 'a-b' and 'a_b' would share the variable HTX_PASSWORD_A_B; "
            "rename one",
        ),
        (
            "[accounts.main]\nemail\n",
            "{path}: not valid TOML: Expected '=' after a key in a key/value pair "
            "(at line 2, column 6)",
        ),
    ],
)
def test_file_errors_name_the_file_the_account_and_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(path, account="main")
    assert str(err.value) == message.format(path=path)


def test_unknown_account_lists_the_names_there_are(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(ConfigError) as err:
        load(path, account="nope")
    assert str(err.value) == f"No account 'nope' in {path}; the accounts there are: main, work-2"


def test_unknown_account_without_a_file_or_with_an_empty_one(tmp_path: Path) -> None:
    missing = tmp_path / "none.toml"
    with pytest.raises(ConfigError) as err:
        load(missing, account="main")
    assert str(err.value) == (
        f"No account 'main': {missing} does not exist; create it with `htx-keys account set main`"
    )
    empty = write(tmp_path, "# nothing yet\n")
    with pytest.raises(ConfigError) as err:
        load(empty, account="main")
    assert str(err.value) == (
        f"No account 'main' in {empty}: it holds no accounts; create it with "
        "`htx-keys account set main`"
    )


def test_bad_account_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path), account="../main")
    assert str(err.value) == "Account name '../main' may hold only letters, digits, '_' and '-'"


def test_default_path_follows_xdg_config_home_then_htx_keys_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.platform", "linux")  # macOS and Windows: tests/unit/test_platforms.py
    xdg = tmp_path / "xdg"
    assert accounts_path(None, {"XDG_CONFIG_HOME": str(xdg)}) == (
        xdg / "htx-keys" / "accounts.toml"
    )
    home_default = Path.home() / ".config" / "htx-keys" / "accounts.toml"
    assert accounts_path(None, {}) == home_default
    assert accounts_path(None, {"XDG_CONFIG_HOME": "relative/dir"}) == home_default
    assert accounts_path(None, {"HTX_KEYS_CONFIG": "a.toml", "XDG_CONFIG_HOME": str(xdg)}) == (
        tmp_path / "a.toml"
    )
    assert accounts_path(Path("b.toml"), {"HTX_KEYS_CONFIG": "a.toml"}) == tmp_path / "b.toml"

    (xdg / "htx-keys").mkdir(parents=True)
    (xdg / "htx-keys" / "accounts.toml").write_text(FULL)
    settings = load_settings({}, None, {"XDG_CONFIG_HOME": str(xdg)}, account="main")
    assert settings.email == "me@example.com"
    assert settings.accounts_file == str(xdg / "htx-keys" / "accounts.toml")


# --- precedence ----------------------------------------------------------------------------


def test_precedence_flags_environment_account_env_file_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[accounts.main]\nbase_url = "https://account"\napi_url = "https://account-api"\n'
        'imap_host = "account-host"\nmail_from = "account@htx.com"\n',
    )
    env_file = tmp_path / "test.env"
    env_file.write_text(
        "HTX_BASE_URL=https://dotenv\nHTX_API_URL=https://dotenv-api\nHTX_IMAP_HOST=dotenv-host\n"
        "HTX_MAIL_FROM=dotenv@htx.com\nHTX_IMAP_PORT=1993\n"
    )
    environ = {"HTX_BASE_URL": "https://env", "HTX_API_URL": "https://env-api"}
    settings = load_settings(
        {"base_url": "https://flag"}, env_file, environ, account="main", config_file=path
    )
    assert settings.base_url == "https://flag"  # flag
    assert settings.api_url == "https://env-api"  # environment over the account
    assert settings.imap_host == "account-host"  # the account over .env
    assert settings.mail_from == "account@htx.com"
    assert settings.imap_port == 1993  # .env where the account says nothing
    assert settings.imap_security == "tls"  # default
    assert settings.account == "main"


def test_email_and_imap_user_come_from_the_account_even_over_the_environment(
    tmp_path: Path,
) -> None:
    path = write(tmp_path)
    environ = {"HTX_EMAIL": "other@example.com", "HTX_IMAP_USER": "other@example.com"}
    settings = load(path, environ, account="main")
    assert (settings.email, settings.imap_user) == ("me@example.com", "me@example.com")
    # work-2 sets no imap_user: the environment's applies
    settings = load(path, environ, account="work-2")
    assert (settings.email, settings.imap_user) == ("work@example.com", "other@example.com")
    # a flag still wins
    flagged = load_settings(
        {"email": "flag@example.com"}, None, environ, account="main", config_file=path
    )
    assert flagged.email == "flag@example.com"


def test_without_an_account_nothing_changes(tmp_path: Path) -> None:
    path = write(tmp_path)
    settings = load(path, {"HTX_EMAIL": "env@example.com", "HTX_PASSWORD": "generic-pw-1"})
    assert settings.account is None
    assert settings.email == "env@example.com"
    assert settings.password == "generic-pw-1"
    assert settings.default_permissions == ()


def test_htx_keys_account_selects_and_the_flag_overrides_it(tmp_path: Path) -> None:
    path = write(tmp_path)
    environ = {"HTX_KEYS_ACCOUNT": "work-2", "HTX_KEYS_CONFIG": str(path)}
    assert load_settings({}, None, environ).email == "work@example.com"
    assert load_settings({}, None, environ, account="main").email == "me@example.com"


def test_account_defaults_for_provision(tmp_path: Path) -> None:
    settings = load(write(tmp_path), account="main")
    assert settings.default_permissions == ("read", "trade")
    assert settings.default_ips == ("203.0.113.7",)


# --- secrets -------------------------------------------------------------------------------


def test_per_account_environment_secrets_and_generic_ones_ignored(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = write(tmp_path)
    env_file = tmp_path / "test.env"
    env_file.write_text("HTX_TOTP_SECRET=JBSWY3DPEHPK3PXP\n")
    environ = {
        "HTX_PASSWORD": "generic-password",
        "HTX_IMAP_PASSWORD": "generic-imap",
        "HTX_PASSWORD_WORK_2": "work-password-77",
    }
    settings = load_settings({}, env_file, environ, account="work-2", config_file=path)
    assert settings.password == "work-password-77"
    assert settings.totp_secret is None  # not the .env's generic one
    assert settings.imap_password is None  # not the environment's generic one
    with pytest.raises(ConfigError) as err:
        settings.require("email", "password", "totp_secret", "imap_password")
    assert str(err.value) == (
        "Missing settings HTX_TOTP_SECRET_WORK_2, HTX_IMAP_PASSWORD_WORK_2 for account "
        "'work-2': set them in the environment or run `htx-keys account set work-2`"
    )


def test_keyring_secrets_and_environment_over_keyring(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = write(tmp_path)
    put(memory_keyring, "main", password="kr-main-pw", totp_secret=SEED, imap_password="kr-imap")
    put(memory_keyring, "work-2", password="kr-work-pw")
    main = load(path, {"HTX_IMAP_PASSWORD_MAIN": "env-imap-pw"}, account="main")
    assert (main.password, main.totp_secret, main.imap_password) == (
        "kr-main-pw",
        SEED,
        "env-imap-pw",
    )
    work = load(path, account="work-2")
    assert (work.email, work.password, work.totp_secret) == ("work@example.com", "kr-work-pw", None)
    for value in ("kr-main-pw", "env-imap-pw", "kr-work-pw"):
        assert value in REDACTOR.values
    assert "kr-main-pw" not in repr(main)


def test_no_keyring_is_not_an_error_until_a_secret_is_required(
    tmp_path: Path, no_keyring: None
) -> None:
    settings = load(write(tmp_path), account="main")
    assert settings.password is None
    with pytest.raises(ConfigError) as err:
        settings.require("password")
    assert str(err.value) == (
        "Missing setting HTX_PASSWORD_MAIN for account 'main': set it in the environment or "
        "run `htx-keys account set main` (the OS keyring could not be read: keyring found "
        "no backend)"
    )


def test_a_missing_plain_setting_points_at_the_accounts_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[accounts.main]\n")
    settings = load(path, account="main")
    with pytest.raises(ConfigError) as err:
        settings.require("email")
    assert str(err.value) == (
        f"Missing setting email for account 'main': add it to [accounts.main] in {path} "
        "or set HTX_EMAIL"
    )
    with pytest.raises(ConfigError) as err:
        settings.require("email", "imap_host", "password")
    assert str(err.value) == (
        "Missing settings HTX_PASSWORD_MAIN, email, imap_host for account 'main': set "
        "HTX_PASSWORD_MAIN in the environment or run `htx-keys account set main`; add email, "
        f"imap_host to [accounts.main] in {path} or set HTX_EMAIL, HTX_IMAP_HOST"
    )


def test_keyring_that_hangs_is_given_up_on(
    tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    release = threading.Event()

    def stuck(service: str, username: str) -> str | None:
        release.wait(5)
        return None

    monkeypatch.setattr(memory_keyring, "get_password", stuck)
    monkeypatch.setattr(accounts, "KEYRING_READ_TIMEOUT", 0.1)
    try:
        settings = load(write(tmp_path), account="main")
    finally:
        release.set()
    assert settings.keyring_problem == "it did not answer within 0.1 s (locked?)"


# --- the file writer -------------------------------------------------------------------------


def test_toml_values_round_trip() -> None:
    import tomllib

    for value in ['a"b\\c\x7f\n\t\x01é', 993, 1.5, float("inf"), ["read", "trade"]]:
        assert tomllib.loads(f"x = {toml_value(value)}")["x"] == value


# --- the commands ----------------------------------------------------------------------------


def run(*args: str, input: str | None = None) -> Invoked:
    return invoke(["account", *args], input=input)


def test_account_set_stores_secrets_and_writes_the_file(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    config = tmp_path / "conf" / "htx-keys" / "accounts.toml"
    result = run(
        "set",
        "main",
        "--config",
        str(config),
        "--email",
        "me@example.com",
        "--imap-host",
        "imap.gmail.com",
        "--imap-port",
        "993",
        "-p",
        "trade",
        "--ip",
        "203.0.113.7",
        "--imap-ca-file",
        "~/ca.pem",
        input="s3cret-Passw0rd\njbsw y3dp ehpk 3pxp jbsw y3dp\nimap-S3cret\n",
    )
    assert result.exit_code == 0, result.output
    for secret in ("s3cret-Passw0rd", "jbsw y3dp", "JBSWY3DP", "imap-S3cret"):
        assert secret not in result.output
        assert secret not in result.stderr
    assert result.stdout == (
        f"Account 'main': {config} updated\n"
        "  password       stored in the keyring (service htx-keys-accounts)\n"
        "  TOTP seed      stored in the keyring (service htx-keys-accounts)\n"
        "  IMAP password  stored in the keyring (service htx-keys-accounts)\n"
    )
    assert "Password for account 'main' (hidden; Enter skips): " in result.stderr
    assert memory_keyring.entries == {
        (ACCOUNTS_SERVICE, "main/password"): "s3cret-Passw0rd",
        (ACCOUNTS_SERVICE, "main/totp_secret"): SEED,
        (ACCOUNTS_SERVICE, "main/imap_password"): "imap-S3cret",
    }
    assert "s3cret-Passw0rd" in REDACTOR.values
    assert config.read_text() == (
        "[accounts.main]\n"
        'email = "me@example.com"\n'
        'imap_host = "imap.gmail.com"\n'
        "imap_port = 993\n"
        'imap_ca_file = "~/ca.pem"\n'
        'permissions = ["read", "trade"]\n'
        'ip_addresses = ["203.0.113.7"]\n'
    )
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(config.parent.parent.stat().st_mode) == 0o700

    settings = load(config, account="main")
    assert (settings.password, settings.totp_secret, settings.imap_password) == (
        "s3cret-Passw0rd",
        SEED,
        "imap-S3cret",
    )
    assert settings.imap_ca_file == Path("~/ca.pem").expanduser()


def test_account_set_enter_keeps_stored_values_and_edits_in_place(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = write(tmp_path)
    put(memory_keyring, "main", password="old-password", totp_secret=SEED)
    result = run(
        "set",
        "main",
        "--config",
        str(path),
        "--imap-port",
        "1993",
        "--mail-timeout",
        "60",
        input="\n\n\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password for account 'main' (hidden; Enter keeps the stored one): " in result.stderr
    assert "IMAP password for account 'main' (hidden; Enter skips): " in result.stderr
    assert result.stdout == (
        f"Account 'main': {path} updated\n"
        "  password       kept\n"
        "  TOTP seed      kept\n"
        "  IMAP password  not set\n"
    )
    assert memory_keyring.entries[(ACCOUNTS_SERVICE, "main/password")] == "old-password"
    # Only the changed line moved; comments and the other account stay as written.
    expected = FULL.replace("imap_port = 993", "imap_port = 1993").replace(
        'ip_addresses = ["203.0.113.7"]\n', 'ip_addresses = ["203.0.113.7"]\nmail_timeout = 60.0\n'
    )
    assert path.read_text() == expected


def test_account_set_without_flags_registers_the_name(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    result = run("set", "spare", "--config", str(path), input="pw-spare-1\n\n\n")
    assert result.exit_code == 0, result.output
    assert path.read_text() == "[accounts.spare]\n"
    assert load(path, account="spare").password == "pw-spare-1"


def test_account_set_asks_again_for_a_bad_seed_then_gives_up(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = tmp_path / "accounts.toml"
    result = run(
        "set", "main", "--config", str(path), input="pw-1234\nnot-a-seed!\n" + SEED + "\n\n"
    )
    assert result.exit_code == 0, result.output
    assert "htx-keys: That is not a valid base32 Google Authenticator seed; try again" in (
        result.stderr
    )
    assert "not-a-seed!" not in result.output
    assert memory_keyring.entries[(ACCOUNTS_SERVICE, "main/totp_secret")] == SEED

    result = run("set", "other", "--config", str(path), input="\nbad1!\nbad2!\nbad3!\n")
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert result.error == ("That is not a valid base32 Google Authenticator seed (asked 3 times)")
    assert (ACCOUNTS_SERVICE, "other/password") not in memory_keyring.entries
    assert "other" not in read_accounts(path)  # nothing written when the prompts failed


def test_account_set_bad_input_fails_before_any_prompt(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    for args, message in [
        (["set", "my acct"], "Account name 'my acct' may hold only letters, digits, '_' and '-'"),
        (["set", "main", "--imap-port", "x"], "--imap-port must be a port number, not 'x'"),
        (["set", "main", "--email", ""], "--email cannot be empty"),
        (["set", "main", "-p", "admin"], "Unknown permission 'admin': use read, trade or withdraw"),
        (["set", "main", "--ip", "1.2.3.999"], "Invalid IP address: 1.2.3.999"),
    ]:
        result = run(*args, "--config", str(path), input="pw\n")
        assert result.exit_code == ExitStatus.USAGE, result.output
        assert result.error == message
        assert result.stderr == f"htx-keys: error: {message}\n"  # no prompt was shown
    write(tmp_path, one_account('password = "x"'))
    result = run("set", "main", "--config", str(path), input="pw\n")
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert "hidden" not in result.stderr and result.error.endswith(
        "use `htx-keys account set main`"
    )


def test_account_set_without_a_keyring(tmp_path: Path, no_keyring: None) -> None:
    path = tmp_path / "accounts.toml"
    result = run("set", "main", "--config", str(path), "--email", "me@example.com")
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert result.error == (
        "No usable OS keyring (keyring found no backend (keyring.backends.fail.Keyring)), so "
        "the secrets of account 'main' cannot be stored; put them in HTX_PASSWORD_MAIN, "
        "HTX_TOTP_SECRET_MAIN, HTX_IMAP_PASSWORD_MAIN instead and run with --file-only"
    )
    assert not path.exists()
    result = run("set", "main", "--config", str(path), "--email", "me@example.com", "--file-only")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Account 'main': {path} updated\n"
    settings = load(path, {"HTX_PASSWORD_MAIN": "env-pw-main"}, account="main")
    assert (settings.email, settings.password) == ("me@example.com", "env-pw-main")


def test_account_list(
    tmp_path: Path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)
    put(memory_keyring, "main", password="kr-pw-main", totp_secret=SEED)
    monkeypatch.setenv("HTX_IMAP_PASSWORD_WORK_2", "env-imap-work")
    result = run("list", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "NAME    EMAIL             PASSWORD  TOTP SEED  IMAP PASSWORD\n"
        "main    me@example.com    held      held       missing\n"
        "work-2  work@example.com  missing   missing    held\n"
    )
    result = run("list", "--config", str(path), "--format", "json")
    assert json.loads(result.stdout) == [
        {
            "name": "main",
            "email": "me@example.com",
            "secrets": {"password": "held", "totp_secret": "held", "imap_password": "missing"},
        },
        {
            "name": "work-2",
            "email": "work@example.com",
            "secrets": {"password": "missing", "totp_secret": "missing", "imap_password": "held"},
        },
    ]
    for value in ("kr-pw-main", SEED, "env-imap-work"):
        assert value not in result.output


def test_account_list_without_a_keyring_or_accounts(tmp_path: Path, no_keyring: None) -> None:
    path = write(tmp_path)
    result = run("list", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "htx-keys: note: the OS keyring could not be read (keyring found no backend); "
        "secrets not in the environment show as unknown\n"
    )
    assert "main    me@example.com    unknown   unknown    unknown" in result.stdout
    empty = run("list", "--config", str(tmp_path / "none.toml"))
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert empty.stderr == f"No accounts in {tmp_path / 'none.toml'}\n"
    assert run("list", "--config", str(tmp_path / "none.toml"), "--format", "json").stdout == (
        "[]\n"
    )


def test_account_remove(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    path = write(tmp_path)
    put(memory_keyring, "main", password="kr-pw-main", totp_secret=SEED)
    put(memory_keyring, "work-2", password="kr-pw-work")
    result = run("remove", "main", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Account 'main': removed password, TOTP seed from the keyring; [accounts.main] stays "
        f"in {path} (--from-file removes it)\n"
    )
    assert set(memory_keyring.entries) == {(ACCOUNTS_SERVICE, "work-2/password")}

    result = run("remove", "main", "--config", str(path))
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert result.error == ("Nothing to remove: the keyring holds no secret of account 'main'")

    result = run("remove", "work-2", "--config", str(path), "--from-file")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Account 'work-2': removed password from the keyring; removed [accounts.work-2] "
        f"from {path}\n"
    )
    assert path.read_text() == FULL[: FULL.index("[accounts.work-2]")]
    assert list(read_accounts(path)) == ["main"]


def test_account_options_decorator() -> None:
    import click

    seen: dict[str, object] = {}

    @click.command()
    @account_options
    def cmd(account: str | None, config_file: Path | None) -> None:
        seen.update(account=account, config_file=config_file)

    result = CliRunner().invoke(cmd, ["--account", "main", "--config", "a.toml"])
    assert result.exit_code == 0, result.output
    assert seen == {"account": "main", "config_file": Path("a.toml")}
    help_text = CliRunner().invoke(cmd, ["--help"]).output
    assert "Use the named account from the accounts file [env" in help_text
    assert "HTX_KEYS_CONFIG; default" in help_text
    # envvar-free: load_settings reads HTX_KEYS_ACCOUNT itself
    result = CliRunner().invoke(cmd, [], env={"HTX_KEYS_ACCOUNT": "x"})
    assert seen == {"account": None, "config_file": None}


def test_an_account_written_in_an_unusual_form_is_left_for_a_person(tmp_path: Path) -> None:
    path = write(tmp_path, '[accounts]\nmain = { email = "me@example.com" }\n')
    result = run("set", "main", "--config", str(path), "--imap-host", "h", "--file-only")
    assert result.exit_code == ExitStatus.CONFIG, result.output
    assert result.error == (
        f"{path}: cannot update [accounts.main] safely (written in an unusual form); "
        "edit it by hand"
    )
    assert path.read_text() == '[accounts]\nmain = { email = "me@example.com" }\n'


def test_removing_a_table_keeps_the_comments_of_the_next_one(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    path = write(tmp_path, '[accounts.a]\nemail = "a@x.y"\n\n# b is the backup\n[accounts.b]\n')
    put(memory_keyring, "a", password="pw-of-a")
    result = run("remove", "a", "--config", str(path), "--from-file")
    assert result.exit_code == 0, result.output
    assert path.read_text() == "\n# b is the backup\n[accounts.b]\n"


def _set_email(path: str, name: str) -> None:
    from automation.accounts_file import update_accounts

    update_accounts(Path(path), name, {"email": f"{name}@example.com"})


def test_accounts_set_at_the_same_time_all_land(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several `account set` at once: each reads, changes and writes the file in turn."""
    import multiprocessing
    import time

    from automation import accounts_file

    path = write(tmp_path, '[accounts.first]\nemail = "first@example.com"\n')
    planned = accounts_file.plan_update

    def slow_plan(*args: object, **kwargs: object) -> tuple[str, bool]:
        result = planned(*args, **kwargs)  # type: ignore[arg-type]
        time.sleep(0.05)  # the window in which another writer's change would be lost
        return result

    monkeypatch.setattr(accounts_file, "plan_update", slow_plan)
    names = [f"bot-{n}" for n in range(6)]
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_set_email, args=(str(path), name)) for name in names]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    found = read_accounts(path)
    assert sorted(found) == sorted(["first", *names])
    assert all(found[n].entries["email"] == f"{n}@example.com" for n in names)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


TEAM = """\
[accounts.alice]
email = "alice@team.example"
imap_host = "imap.team.example"
imap_user = "team@team.example"

[accounts.bob]
email = "bob@team.example"
imap_host = "IMAP.team.example"
imap_user = "Team@team.example"

[accounts.carol]
email = "carol@team.example"

[accounts.dave]
email = "dave@team.example"
imap_user = "team@team.example"

[accounts.erin]
email = "erin@team.example"
imap_host = "imap.other.example"
imap_user = "team@team.example"

[accounts.nobody]
imap_user = "team@team.example"
"""


def test_the_accounts_reading_the_same_mailbox(tmp_path: Path) -> None:
    from automation.accounts import mailbox_sharers

    path = write(tmp_path, TEAM)
    # bob: the same host and user in other cases; dave: no host, so the environment's, ours;
    # carol reads her own mailbox (her email), erin another server's, nobody has no address.
    sharers = mailbox_sharers(path, "alice", "imap.team.example", "team@team.example")
    assert sharers == ("bob@team.example", "dave@team.example")
    assert mailbox_sharers(path, "carol", "imap.team.example", "carol@team.example") == ()


def test_mail_settings_know_the_account_s_address_and_its_mailbox_sharers(
    tmp_path: Path,
) -> None:
    from htx_keys.app.preflight import mail_settings

    path = write(tmp_path, TEAM)
    mail = mail_settings(load(path, account="bob"))
    assert mail.account_address == "bob@team.example"
    assert mail.other_addresses == ("alice@team.example", "dave@team.example")
    # Without a named account nobody else is known; a phone number is no address.
    alone = mail_settings(load(path, {"HTX_EMAIL": "+86 13812345678", "HTX_IMAP_USER": "u"}))
    assert (alone.account_address, alone.other_addresses) == (None, ())
