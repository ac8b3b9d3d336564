"""The one schema of settings: each setting's environment name, which are secrets, how a
raw value is read. automation.config (flags > environment > .env) and automation.accounts
(the accounts file, the keyring) both build on it; it imports neither."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from automation.errors import ConfigError
from automation.hosts import is_loopback_host

# The environment name of each setting. HTX_* are the account's; HTX_KEYS_* are the tool's.
ENV_NAMES: dict[str, str] = {
    "base_url": "HTX_BASE_URL",
    "api_url": "HTX_API_URL",
    "email": "HTX_EMAIL",
    "password": "HTX_PASSWORD",
    "totp_secret": "HTX_TOTP_SECRET",
    "imap_host": "HTX_IMAP_HOST",
    "imap_port": "HTX_IMAP_PORT",
    "imap_user": "HTX_IMAP_USER",
    "imap_password": "HTX_IMAP_PASSWORD",
    "imap_security": "HTX_IMAP_SECURITY",
    "imap_ca_file": "HTX_IMAP_CA_FILE",
    "imap_auth": "HTX_IMAP_AUTH",
    "imap_oauth_provider": "HTX_IMAP_OAUTH_PROVIDER",
    "imap_oauth_client_id": "HTX_IMAP_OAUTH_CLIENT_ID",
    "imap_oauth_client_secret": "HTX_IMAP_OAUTH_CLIENT_SECRET",
    "imap_oauth_refresh_token": "HTX_IMAP_OAUTH_REFRESH_TOKEN",
    "imap_oauth_token_command": "HTX_IMAP_OAUTH_TOKEN_COMMAND",
    "imap_oauth_tenant": "HTX_IMAP_OAUTH_TENANT",
    "imap_oauth_scope": "HTX_IMAP_OAUTH_SCOPE",
    "imap_oauth_token_url": "HTX_IMAP_OAUTH_TOKEN_URL",
    "imap_oauth_auth_url": "HTX_IMAP_OAUTH_AUTH_URL",
    "imap_oauth_device_url": "HTX_IMAP_OAUTH_DEVICE_URL",
    "mail_from": "HTX_MAIL_FROM",
    "mail_timeout": "HTX_MAIL_TIMEOUT",
    "mail_code_pattern": "HTX_MAIL_CODE_PATTERN",
    "store": "HTX_KEYS_STORE",
    "browser": "HTX_KEYS_BROWSER",
    "state_dir": "HTX_KEYS_STATE_DIR",
    "note_tag": "HTX_KEYS_NOTE_TAG",
    "totp_period": "HTX_TOTP_PERIOD",
    "site_file": "HTX_KEYS_SITE_FILE",
    "min_age": "HTX_KEYS_MIN_AGE",
}
# The OAuth2 client secret and refresh token are secrets too, but not asked for by
# `htx-keys account set` (SECRETS): `htx-keys mail login` keeps the refresh token in the
# keyring itself, and only Google's clients have a secret.
SECRET_SETTINGS = frozenset(
    {"password", "totp_secret", "imap_password", "imap_oauth_client_secret",
     "imap_oauth_refresh_token"}
)  # fmt: skip
IMAP_SECURITY = ("tls", "starttls", "plain")
IMAP_AUTH = ("password", "xoauth2", "oauthbearer")
OAUTH_PROVIDERS = ("google", "microsoft")
OAUTH_URLS = ("imap_oauth_token_url", "imap_oauth_auth_url", "imap_oauth_device_url")
TENANT_PATTERN = re.compile(r"[A-Za-z0-9.-]{1,100}")
NOTE_TAG_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")
AGE_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.I)
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Identity settings an account's entries decide even against the generic environment.
ACCOUNT_OWNED = frozenset({"email", "imap_user"})
ACCOUNT_ENV = "HTX_KEYS_ACCOUNT"  # selects an account when --account is not given
CONFIG_ENV = "HTX_KEYS_CONFIG"  # the accounts file when --config is not given


def account_env_name(account: str, name: str) -> str:
    """HTX_PASSWORD_<NAME>: an account's own variable for a secret setting."""
    return f"{ENV_NAMES[name]}_{account.upper().replace('-', '_')}"


# Which settings an accounts file may hold (never a secret), and how they are kept there.
# Not an account's property: totp_period is for a test sandbox, the site file and the age a
# key needs before `keys reconcile` judges it are the tool's (whichever account); all three
# are set in the environment.
FILE_SETTINGS = tuple(
    name
    for name in ENV_NAMES
    if name not in SECRET_SETTINGS | {"totp_period", "site_file", "min_age"}
)
PATH_SETTINGS = ("imap_ca_file", "state_dir", "site_file")
NUMBER_SETTINGS = ("imap_port", "mail_timeout")
# An account's secrets, asked for and listed in this order; the labels are how a person
# names them.
SECRETS: tuple[tuple[str, str], ...] = (
    ("password", "password"),
    ("totp_secret", "TOTP seed"),
    ("imap_password", "IMAP password"),
)


def convert(name: str, raw: str, label: str | None = None) -> Any:
    """Parse one value; `label` names where it came from in messages (default: its variable)."""
    env = label or ENV_NAMES[name]
    if name == "imap_port":
        try:
            port = int(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a port number, not {raw!r}") from None
        if not 0 < port < 65536:
            raise ConfigError(f"{env} must be between 1 and 65535, not {port}")
        return port
    if name == "mail_timeout":
        try:
            seconds = float(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a number of seconds, not {raw!r}") from None
        if seconds <= 0:
            raise ConfigError(f"{env} must be more than 0 seconds")
        return seconds
    if name == "totp_period":
        try:
            period = int(raw)
        except ValueError:
            raise ConfigError(f"{env} must be a whole number of seconds, not {raw!r}") from None
        if period < 1:
            raise ConfigError(f"{env} must be at least 1 second, not {period}")
        return period
    if name == "imap_security":
        mode = raw.strip().lower()
        if mode not in IMAP_SECURITY:
            raise ConfigError(f"{env} must be one of tls, starttls, plain; not {raw!r}")
        return mode
    if name in PATH_SETTINGS:
        return Path(raw).expanduser()
    if name in ("imap_auth", "imap_oauth_provider"):
        choices = IMAP_AUTH if name == "imap_auth" else OAUTH_PROVIDERS
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigError(f"{env} must be one of {', '.join(choices)}; not {raw!r}")
        return value
    if name in OAUTH_URLS:
        return oauth_url(raw, env)
    if name == "imap_oauth_tenant":
        if not TENANT_PATTERN.fullmatch(raw.strip()):
            raise ConfigError(f"{env} must be a tenant name or id (common, consumers, ...)")
        return raw.strip()
    if name == "imap_oauth_token_command":
        token_command_argv(raw, env)  # a quoting mistake is found here, before anything runs
        return raw.strip()
    if name in ("base_url", "api_url"):
        return raw.strip().rstrip("/")
    if name == "min_age":
        return parse_age(raw, env)
    if name == "note_tag":
        tag = raw.strip()
        if tag.lower() == "none":
            return ""
        if not NOTE_TAG_PATTERN.fullmatch(tag):
            raise ConfigError(
                f"{env} must be 1-32 letters, digits, '.', '_' or '-' (or 'none'), not {raw!r}"
            )
        return tag
    return raw


def oauth_url(raw: str, label: str) -> str:
    """An OAuth2 endpoint: https, or http only to this machine (a token must not cross a
    network in clear; the tests' endpoints are on loopback)."""
    url = raw.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label} must be an https:// URL, not {raw!r}")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ConfigError(f"{label} must use https (http only to this machine), not {raw!r}")
    return url


def token_command_argv(raw: str, label: str) -> list[str]:
    """The token command as the argv it runs (no shell): split as a POSIX shell would."""
    try:
        argv = shlex.split(raw)
    except ValueError as exc:
        raise ConfigError(f"{label} cannot be split into a command: {exc}") from None
    if not argv:
        raise ConfigError(f"{label} is empty")
    return argv


def parse_age(raw: str, label: str) -> float:
    """Seconds from "10m", "90s", "1h", "2d" or a plain number of minutes; 0 turns the wait off."""
    match = AGE_PATTERN.match(raw)
    if not match:
        raise ConfigError(f"{label} must be a duration like 10m, 90s or 1h, not {raw!r}")
    number, unit = float(match.group(1)), (match.group(2) or "m").lower()
    return number * AGE_UNITS[unit]
