from pathlib import Path

import pytest

from automation.config import Settings, load_settings, with_values
from automation.errors import ConfigError, InputError
from automation.redaction import REDACTOR


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test.env"
    path.write_text(text)
    return path


def test_precedence_flags_over_environment_over_env_file_over_defaults(tmp_path: Path) -> None:
    env_file = write_env(
        tmp_path,
        "HTX_BASE_URL=https://from-file\nHTX_EMAIL=file@example.test\nHTX_IMAP_HOST=file-host\n",
    )
    environ = {"HTX_BASE_URL": "https://from-env", "HTX_EMAIL": "env@example.test"}
    settings = load_settings({"base_url": "https://from-flag"}, env_file, environ)
    assert settings.base_url == "https://from-flag"
    assert settings.email == "env@example.test"
    assert settings.imap_host == "file-host"
    assert settings.imap_security == "tls"  # default
    assert settings.store == "keyring"


def test_empty_environment_value_falls_through_to_file(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "HTX_EMAIL=file@example.test\n")
    settings = load_settings({}, env_file, {"HTX_EMAIL": ""})
    assert settings.email == "file@example.test"


def test_default_env_file_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("HTX_IMAP_PORT=1993\nHTX_IMAP_SECURITY=STARTTLS\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings({}, None, {})
    assert settings.imap_port == 1993
    assert settings.imap_security == "starttls"


def test_missing_explicit_env_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        load_settings({}, tmp_path / "nope.env", {})
    assert str(err.value) == f"--env-file {tmp_path / 'nope.env'}: no such file"


def test_require_names_every_missing_setting(tmp_path: Path) -> None:
    settings = load_settings({}, write_env(tmp_path, "HTX_EMAIL=a@b.test\n"), {})
    with pytest.raises(ConfigError) as err:
        settings.require("email", "password", "totp_secret")
    assert str(err.value) == (
        f"Missing settings HTX_PASSWORD, HTX_TOTP_SECRET: set them in the environment or in "
        f"{tmp_path / 'test.env'} (see .env.example)"
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HTX_IMAP_PORT", "imap", "HTX_IMAP_PORT must be a port number, not 'imap'"),
        ("HTX_IMAP_PORT", "70000", "HTX_IMAP_PORT must be between 1 and 65535, not 70000"),
        (
            "HTX_IMAP_SECURITY",
            "ssl",
            "HTX_IMAP_SECURITY must be one of tls, starttls, plain; not 'ssl'",
        ),
        ("HTX_MAIL_TIMEOUT", "-1", "HTX_MAIL_TIMEOUT must be more than 0 seconds"),
        ("HTX_TOTP_PERIOD", "5s", "HTX_TOTP_PERIOD must be a whole number of seconds, not '5s'"),
        ("HTX_TOTP_PERIOD", "0", "HTX_TOTP_PERIOD must be at least 1 second, not 0"),
    ],
)
def test_malformed_values(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({}, None, {name: value})
    assert str(err.value) == message


def test_secrets_enter_the_redactor_when_loaded(tmp_path: Path) -> None:
    env_file = write_env(tmp_path, "HTX_PASSWORD=pw-from-file-4821\n")
    load_settings({}, env_file, {"HTX_IMAP_PASSWORD": "imap-pw-9917"})
    assert "pw-from-file-4821" not in REDACTOR.scrub("x pw-from-file-4821 y")
    assert "imap-pw-9917" not in REDACTOR.scrub("imap-pw-9917")


def test_settings_repr_hides_secrets() -> None:
    settings = load_settings({}, None, {"HTX_PASSWORD": "hunter2-secret"})
    assert "hunter2-secret" not in repr(settings)


SANDBOX = {"HTX_BASE_URL": "http://127.0.0.1:8123", "HTX_API_URL": "http://127.0.0.1:8123"}


def test_the_totp_period_is_30_s_unless_set() -> None:
    assert load_settings({}, None, {}).totp_period == 30
    assert load_settings({}, None, {**SANDBOX, "HTX_TOTP_PERIOD": "4"}).totp_period == 4
    # 30 is the live site's own period: setting it is allowed anywhere.
    assert load_settings({}, None, {"HTX_TOTP_PERIOD": "30"}).totp_period == 30


@pytest.mark.parametrize(
    "url", ["http://localhost:8000", "http://127.0.0.2", "http://[::1]:8000", "http://LOCALHOST."]
)
def test_a_short_period_is_allowed_for_a_site_on_a_loopback_address(url: str) -> None:
    environ = {"HTX_BASE_URL": url, "HTX_API_URL": url, "HTX_TOTP_PERIOD": "2"}
    assert load_settings({}, None, environ).totp_period == 2


@pytest.mark.parametrize(
    ("environ", "flags", "named"),
    [
        ({}, {}, "https://www.htx.com"),  # the defaults: the live site
        ({"HTX_API_URL": "http://127.0.0.1:8123"}, {}, "https://www.htx.com"),
        ({"HTX_BASE_URL": "http://127.0.0.1:8123"}, {}, "https://api.huobi.pro"),
        (SANDBOX, {"base_url": "http://10.0.0.5:8000"}, "http://10.0.0.5:8000"),
        (SANDBOX, {"api_url": "http://127.0.0.1.example.com"}, "http://127.0.0.1.example.com"),
    ],
)
def test_another_period_is_refused_for_any_site_not_on_this_machine(
    environ: dict[str, str], flags: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(flags, None, {**environ, "HTX_TOTP_PERIOD": "5"})
    assert str(err.value) == (
        f"HTX_TOTP_PERIOD=5 is for a sandbox on this machine only, and {named} is not a "
        "loopback address (HTX uses 30 s)"
    )


def test_no_way_of_building_settings_skips_the_period_check() -> None:
    settings = load_settings({}, None, {**SANDBOX, "HTX_TOTP_PERIOD": "5"})
    with pytest.raises(ConfigError, match="not a loopback address"):
        with_values(settings, base_url="https://www.htx.com")
    with pytest.raises(ConfigError, match="not a loopback address"):
        Settings(totp_period=5)
