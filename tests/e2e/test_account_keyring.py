"""`htx-keys account` against a real gnome-keyring, checked independently with secret-tool."""

from __future__ import annotations

import contextlib
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from automation.accounts import ACCOUNTS_SERVICE
from automation.config import load_settings
from tests.support.cli import invoke
from tests.support.keyring_env import (  # noqa: F401  (pytest fixture)
    secret_service,
    secret_tool_lookup,
)

pytestmark = pytest.mark.e2e

SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"


@pytest.fixture
def name(secret_service: KeyringBackend) -> Iterator[str]:  # noqa: F811
    """An account name no other run uses; its keyring entries are removed afterwards."""
    account_name = f"e2e-{secrets.token_hex(4)}"
    yield account_name
    for setting in ("password", "totp_secret", "imap_password"):
        with contextlib.suppress(PasswordDeleteError):  # already gone: the test removed it
            secret_service.delete_password(ACCOUNTS_SERVICE, f"{account_name}/{setting}")


def test_account_set_then_load_settings_from_gnome_keyring(tmp_path: Path, name: str) -> None:
    config = tmp_path / "config" / "accounts.toml"
    password, imap_password = f"pw-{secrets.token_hex(6)}", f"imap-{secrets.token_hex(6)}"
    result = invoke(
        [
            "account",
            "set",
            name,
            "--config",
            str(config),
            "--email",
            "e2e@example.test",
            "--imap-host",
            "127.0.0.1",
            "-p",
            "trade",
        ],
        input=f"{password}\n{SEED.lower()}\n{imap_password}\n",
    )
    assert result.exit_code == 0, result.output
    for secret in (password, imap_password, SEED, SEED.lower()):
        assert secret not in result.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    # The entries are in the Secret Service itself, not in whatever keyring chose to use.
    assert secret_tool_lookup(ACCOUNTS_SERVICE, f"{name}/password") == password
    assert secret_tool_lookup(ACCOUNTS_SERVICE, f"{name}/totp_secret") == SEED
    assert secret_tool_lookup(ACCOUNTS_SERVICE, f"{name}/imap_password") == imap_password

    settings = load_settings(
        {}, None, {"HTX_PASSWORD": "generic"}, account=name, config_file=config
    )
    assert (settings.email, settings.imap_host) == ("e2e@example.test", "127.0.0.1")
    assert (settings.password, settings.totp_secret, settings.imap_password) == (
        password,
        SEED,
        imap_password,
    )
    assert settings.default_permissions == ("read", "trade")
    settings.require("email", "password", "totp_secret", "imap_password")

    listed = invoke(["account", "list", "--config", str(config)])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[1].split() == [
        name,
        "e2e@example.test",
        "held",
        "held",
        "held",
    ]

    # Enter keeps what the keyring holds.
    kept = invoke(["account", "set", name, "--config", str(config)], input="\n\n\n")
    assert kept.exit_code == 0, kept.output
    assert secret_tool_lookup(ACCOUNTS_SERVICE, f"{name}/password") == password

    removed = invoke(["account", "remove", name, "--config", str(config), "--from-file"])
    assert removed.exit_code == 0, removed.output
    for setting in ("password", "totp_secret", "imap_password"):
        assert secret_tool_lookup(ACCOUNTS_SERVICE, f"{name}/{setting}") is None
    assert config.read_text() == ""
