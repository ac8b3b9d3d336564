"""Settings: command-line flags > environment > .env file > defaults.

Every setting has one environment name. Secrets (passwords, the TOTP seed) are never flags:
they come from the environment, a .env file or a hidden prompt, and enter the redactor the
moment they are loaded, so no later output can carry them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from automation.errors import ConfigError, InputError
from automation.redaction import REDACTOR


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "htx-keys"


@dataclass(frozen=True)
class Settings:
    base_url: str = "https://www.htx.com"
    api_url: str = "https://api.huobi.pro"  # REST API host (the sandbox serves both on one origin)
    email: str | None = None
    password: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    imap_host: str | None = None
    imap_port: int | None = None
    imap_user: str | None = None
    imap_password: str | None = field(default=None, repr=False)
    imap_security: str = "tls"
    imap_ca_file: Path | None = None
    mail_from: str | None = None
    mail_timeout: float = 120.0
    mail_code_pattern: str | None = None
    store: str = "keyring"
    browser: str | None = None
    state_dir: Path = field(default_factory=default_state_dir)
    # name of the .env file the values came from, for error messages
    source: str = field(default="", compare=False)

    def require(self, *names: str) -> None:
        """Raise one ConfigError naming every missing setting, with where to put them."""
        missing = [ENV_NAMES[n] for n in names if getattr(self, n) in (None, "")]
        if missing:
            where = f" or in {self.source}" if self.source else " or in a .env file"
            raise ConfigError(
                f"Missing setting{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                f"set {'them' if len(missing) > 1 else 'it'} in the environment{where} "
                "(see .env.example)"
            )


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
    "mail_from": "HTX_MAIL_FROM",
    "mail_timeout": "HTX_MAIL_TIMEOUT",
    "mail_code_pattern": "HTX_MAIL_CODE_PATTERN",
    "store": "HTX_KEYS_STORE",
    "browser": "HTX_KEYS_BROWSER",
    "state_dir": "HTX_KEYS_STATE_DIR",
}
SECRET_SETTINGS = frozenset({"password", "totp_secret", "imap_password"})
IMAP_SECURITY = ("tls", "starttls", "plain")


def read_env_file(path: Path | None, *, explicit: bool) -> dict[str, str]:
    """The KEY=VALUE pairs of a .env file; a missing default .env is simply empty."""
    if path is None:
        return {}
    if not path.is_file():
        if explicit:
            raise InputError(f"--env-file {path}: no such file")
        return {}
    try:
        # No ${VAR} expansion: a password may well contain "$".
        values = dotenv_values(path, interpolate=False)
        return {k: v for k, v in values.items() if v is not None}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc.__class__.__name__}") from None


def _convert(name: str, raw: str) -> Any:
    env = ENV_NAMES[name]
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
    if name == "imap_security":
        mode = raw.strip().lower()
        if mode not in IMAP_SECURITY:
            raise ConfigError(f"{env} must be one of tls, starttls, plain; not {raw!r}")
        return mode
    if name in ("imap_ca_file", "state_dir"):
        return Path(raw).expanduser()
    if name in ("base_url", "api_url"):
        return raw.strip().rstrip("/")
    return raw


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge the sources, highest first: flags, environment, the .env file, defaults.

    `env_file` None means ./.env if there is one; a given path must exist.
    """
    environ = os.environ if environ is None else environ
    explicit = env_file is not None
    path = env_file if explicit else Path.cwd() / ".env"
    from_file = read_env_file(path, explicit=explicit)
    values: dict[str, Any] = {}
    for name, env in ENV_NAMES.items():
        raw = environ.get(env)
        if raw in (None, ""):
            raw = from_file.get(env)
        if raw not in (None, ""):
            values[name] = _convert(name, str(raw))
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = _convert(name, value) if isinstance(value, str) else value
    source = str(path) if from_file else ""
    settings = Settings(**values, source=source)
    for name in SECRET_SETTINGS:
        REDACTOR.add(getattr(settings, name), label=ENV_NAMES[name])
    return settings


def with_values(settings: Settings, **changes: Any) -> Settings:
    """A copy with some settings replaced (secrets given here enter the redactor too)."""
    for name in SECRET_SETTINGS & changes.keys():
        REDACTOR.add(changes[name], label=ENV_NAMES[name])
    return replace(settings, **changes)
