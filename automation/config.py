"""Settings: command-line flags > environment > .env file > defaults.

Every setting has one environment name. Secrets (passwords, the TOTP seed) are never flags:
they come from the environment, a .env file or a hidden prompt, and enter the redactor the
moment they are loaded, so no later output can carry them.

With a named account (--account NAME or HTX_KEYS_ACCOUNT) the accounts file joins in below the
environment, and the account's secrets come only from HTX_PASSWORD_<NAME> etc. or the OS
keyring (automation.accounts), never from the generic HTX_PASSWORD.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from automation.errors import ConfigError, InputError
from automation.hosts import in_the_clear, is_loopback_url, safe_url
from automation.platform_dirs import native_dir
from automation.redaction import REDACTOR
from automation.schema import (
    ACCOUNT_ENV,
    ACCOUNT_OWNED,
    CONFIG_ENV,
    ENV_NAMES,
    SECRET_SETTINGS,
    URL_SCHEMES,
    account_env_name,
    convert,
)

# Seconds per Google Authenticator code: HTX's, and every authenticator app's.
TOTP_PERIOD = 30


def default_state_dir() -> Path:
    """$XDG_STATE_HOME/htx-keys (~/.local/state/htx-keys); on macOS and Windows without
    XDG_STATE_HOME the platform's folder (automation.platform_dirs)."""
    native = native_dir("state", os.environ)
    if native is not None:
        return native
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
    # How the mailbox is logged in to: password, or an OAuth2 access token (xoauth2,
    # oauthbearer) from the token command or the refresh token `htx-keys mail login` kept.
    imap_auth: str = "password"
    imap_oauth_provider: str | None = None  # google | microsoft; None: told by the IMAP host
    imap_oauth_client_id: str | None = None
    imap_oauth_client_secret: str | None = field(default=None, repr=False)
    imap_oauth_refresh_token: str | None = field(default=None, repr=False)
    imap_oauth_token_command: str | None = None
    imap_oauth_tenant: str | None = None  # Microsoft's: common (default), consumers, an id
    imap_oauth_scope: str | None = None
    imap_oauth_token_url: str | None = None
    imap_oauth_auth_url: str | None = None
    imap_oauth_device_url: str | None = None
    mail_from: str | None = None
    mail_timeout: float = 120.0
    mail_code_pattern: str | None = None
    # A command that prints an emailed or SMS code (automation/code_command.py), as written.
    code_command: str | None = None
    store: str = "keyring"
    browser: str | None = None
    state_dir: Path = field(default_factory=default_state_dir)
    # Appended to every note the tool gives a key ("ci-bot [htx-keys]"), so `keys reconcile`
    # can tell its keys from keys made by hand; "" for none.
    note_tag: str = "htx-keys"
    # Seconds per GA code. Only a sandbox on this machine may differ from 30 (tests run it
    # shorter, to wait less for fresh codes); see __post_init__.
    totp_period: int = TOTP_PERIOD
    # Overrides of the site's texts and locators (flows/htx/overrides.py); None: site.toml
    # beside the accounts file, if there is one.
    site_file: Path | None = None
    # Where the saved login is kept (automation.session): keyring, file:PATH or none.
    session: str = "keyring"
    # A Playwright channel (chrome, msedge, chromium...) instead of a path: automation.browser.
    browser_channel: str | None = None
    # A browser elsewhere: a Chromium's DevTools endpoint or a Playwright server. Hidden from
    # repr: services put access tokens in these URLs.
    cdp_endpoint: str | None = field(default=None, repr=False)
    ws_endpoint: str | None = field(default=None, repr=False)
    # Let http:// and ws:// go to hosts other than this machine (see __post_init__).
    allow_insecure_transport: bool = False
    # Seconds a key must exist before `keys reconcile` may call it an orphan: a younger one
    # may belong to a run that is about to store it.
    min_age: float = 600.0
    # The audit trail (automation/audit.py): one JSON line per create, revoke, rotate, reap;
    # None: audit.jsonl in the state dir.
    audit_log: Path | None = None
    # name of the .env file the values came from, for error messages
    source: str = field(default="", compare=False)
    # the named account these settings are for (None: the plain HTX_* settings)
    account: str | None = None
    # the account's default permissions and IP addresses for `provision`, from the file
    default_permissions: tuple[str, ...] = ()
    default_ips: tuple[str, ...] = ()
    # for error messages: the accounts file, and why the keyring could not be read
    accounts_file: str = field(default="", compare=False)
    keyring_problem: str = field(default="", compare=False)
    # the accounts file named by --config or HTX_KEYS_CONFIG (None: the default place)
    config_file: Path | None = field(default=None, compare=False)
    # where a value came from when not its variable ("--base-url", an accounts file's
    # entry), so a message names what the person typed
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Checked here, so no way of building settings (flags, files, with_values, a library
        # caller's Settings(...)) can slip past them.
        seconds = self.mail_timeout
        if not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds <= 0:
            env = self.label("mail_timeout")
            raise ConfigError(f"{env} must be a finite number of seconds above 0")
        self._check_totp_period()
        self._check_transport()

    def label(self, name: str) -> str:
        """How a message names a setting: the flag or file entry it came from, else its
        variable."""
        return self.labels.get(name) or ENV_NAMES[name]

    def _check_transport(self) -> None:
        """Plain http:// and ws:// only to this machine, unless explicitly allowed: the
        session cookie, the login and the new key's secret all cross these connections."""
        if self.allow_insecure_transport:
            return
        for name in URL_SCHEMES:
            url = getattr(self, name)
            if not url or not in_the_clear(url):
                continue
            label = self.label(name)
            secure = "wss://" if url.lower().startswith("ws") else "https://"
            error = InputError if label.startswith("--") else ConfigError
            raise error(
                f"{label} {safe_url(url)!r} is not encrypted and not on this machine: use "
                f"{secure}, or allow it with --allow-insecure-transport "
                f"({ENV_NAMES['allow_insecure_transport']}=1)"
            )

    def _check_totp_period(self) -> None:
        if self.totp_period == TOTP_PERIOD:
            return
        env = ENV_NAMES["totp_period"]
        if isinstance(self.totp_period, bool) or not isinstance(self.totp_period, int):
            raise ConfigError(f"{env} must be a whole number of seconds")
        if self.totp_period < 1:
            raise ConfigError(f"{env} must be at least 1 second")
        # The live site (and the phone app) always step every 30 s: another period there
        # would only burn codes and get the account locked out.
        for url in (self.base_url, self.api_url):
            if not is_loopback_url(url):
                raise ConfigError(
                    f"{env}={self.totp_period} is for a sandbox on this machine only, "
                    f"and {url} is not a loopback address (HTX uses {TOTP_PERIOD} s)"
                )

    def env_name(self, name: str) -> str:
        """The variable a setting comes from: an account's secrets have their own names."""
        if self.account is not None and name in SECRET_SETTINGS:
            return account_env_name(self.account, name)
        return ENV_NAMES[name]

    def require(self, *names: str) -> None:
        """Raise one ConfigError naming every missing setting, with where to put them."""
        if self.account is not None:
            self._require_for_account(names)
            return
        missing = [ENV_NAMES[n] for n in names if getattr(self, n) in (None, "")]
        if missing:
            where = f" or in {self.source}" if self.source else " or in a .env file"
            raise ConfigError(
                f"Missing setting{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
                f"set {'them' if len(missing) > 1 else 'it'} in the environment{where} "
                "(see .env.example)"
            )

    def _require_for_account(self, names: tuple[str, ...]) -> None:
        absent = [n for n in names if getattr(self, n) in (None, "")]
        if not absent:
            return
        account = self.account or ""
        secrets = [self.env_name(n) for n in absent if n in SECRET_SETTINGS]
        plain = [n for n in absent if n not in SECRET_SETTINGS]
        # Secrets are named by their variable (the only place besides the keyring they can
        # be); other settings by their key in the accounts file, where they usually live.
        listed = [*secrets, *plain]
        several = len(listed) > 1
        fixes = []
        if secrets:
            what = ", ".join(secrets) if plain else ("them" if len(secrets) > 1 else "it")
            fix = f"set {what} in the environment or run `htx-keys account set {account}`"
            if self.keyring_problem:
                fix += f" (the OS keyring could not be read: {self.keyring_problem})"
            fixes.append(fix)
        if plain:
            what = ", ".join(plain) if secrets else ("them" if len(plain) > 1 else "it")
            where = f" in {self.accounts_file}" if self.accounts_file else ""
            env = ", ".join(ENV_NAMES[n] for n in plain)
            fixes.append(f"add {what} to [accounts.{account}]{where} or set {env}")
        raise ConfigError(
            f"Missing setting{'s' if several else ''} {', '.join(listed)} for account "
            f"'{account}': {'; '.join(fixes)}"
        )


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


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    account: str | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the sources, highest first: flags, environment, the .env file, defaults.

    `env_file` None means ./.env if there is one; a given path must exist. Every variable
    works from the .env file as from the environment: the settings, HTX_KEYS_ACCOUNT,
    HTX_KEYS_CONFIG and an account's own secrets (HTX_PASSWORD_<NAME> ...).

    With an account (`account`, else HTX_KEYS_ACCOUNT) its entries in the accounts file
    (`config_file`, else HTX_KEYS_CONFIG, else the XDG default) rank below the environment and
    above .env, except email and imap_user, which the account's entries decide when it sets
    them: a stray HTX_EMAIL must not log in to another account's name. Its secrets come from
    HTX_PASSWORD_<NAME> etc., then the OS keyring; the generic HTX_PASSWORD etc. are ignored,
    so two accounts never share a password by accident.
    """
    environ = os.environ if environ is None else environ
    explicit = env_file is not None
    path = env_file if explicit else Path.cwd() / ".env"
    from_file = read_env_file(path, explicit=explicit)
    merged = merge_environ(environ, from_file)
    name = account or merged.get(ACCOUNT_ENV) or None
    if config_file is None and merged.get(CONFIG_ENV):
        config_file = Path(merged[CONFIG_ENV]).expanduser()
    values: dict[str, Any] = {}
    labels: dict[str, str] = {}
    extra: dict[str, Any] = {"config_file": config_file}
    entries: Mapping[str, Any] = {}
    where = ""
    if name is not None:
        # Loaded only with an account: it brings the keyring library.
        from automation.accounts import resolve_account

        found, secrets = resolve_account(name, config_file, merged)
        entries = found.entries
        where = f"{found.path}: account '{name}'"
        values.update(secrets.values)
        extra |= {
            "account": name,
            "default_permissions": found.permissions,
            "default_ips": found.ip_addresses,
            "accounts_file": str(found.path),
            "keyring_problem": secrets.keyring_problem,
        }
    for setting, env in ENV_NAMES.items():
        if name is not None and setting in SECRET_SETTINGS:
            continue  # resolved above, from the account's own sources only
        if setting in entries and (setting in ACCOUNT_OWNED or not environ.get(env)):
            values[setting] = entries[setting]
            labels[setting] = f"{where}: {setting}"
        elif merged.get(env):
            values[setting] = convert(setting, merged[env])
    flagged = flag_values(flags)
    values |= flagged
    labels |= {setting: flag_name(setting) for setting in flagged}
    source = str(path) if from_file else ""
    settings = Settings(**values, source=source, labels=labels, **extra)
    for setting in SECRET_SETTINGS:
        REDACTOR.add(getattr(settings, setting), label=settings.env_name(setting))
    return settings


def merge_environ(environ: Mapping[str, str], from_file: Mapping[str, str]) -> dict[str, str]:
    """The variables as the tool sees them: the environment's, and the .env file's where the
    environment leaves one unset or empty."""
    merged = {key: value for key, value in from_file.items() if value}
    merged.update((key, value) for key, value in environ.items() if value)
    return merged


def tool_environ(
    env_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables as a command sees them, for the few that it reads without building
    settings (`account` reads HTX_KEYS_CONFIG and HTX_PASSWORD_<NAME> ...): the environment
    over the .env file (./.env, or `env_file`)."""
    path = env_file if env_file is not None else Path.cwd() / ".env"
    environ = os.environ if environ is None else environ
    return merge_environ(environ, read_env_file(path, explicit=env_file is not None))


def flag_name(setting: str) -> str:
    return "--" + setting.replace("_", "-")


def flag_values(flags: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings given as flags (None: not given), checked by the same rules as the
    environment's; a bad one is bad input (exit 2) and named by its flag."""
    values: dict[str, Any] = {}
    for setting, value in (flags or {}).items():
        if value is None:
            continue
        if isinstance(value, str):
            try:
                value = convert(setting, value, label=flag_name(setting))
            except ConfigError as exc:
                raise InputError(exc.message) from None
        values[setting] = value
    return values


# What a run on the built-in replica (`demo`, `record` without --base-url) takes from the
# environment: how to reach a browser. Its made-up account brings everything else.
BROWSER_SETTINGS = (
    "browser",
    "browser_channel",
    "cdp_endpoint",
    "ws_endpoint",
    "allow_insecure_transport",
)


def browser_values(
    flags: Mapping[str, Any],
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The browser settings from flags > environment > .env, checked as load_settings checks
    them (a plain ws:// to another machine too), for `with_values` on the replica's settings."""
    merged = tool_environ(env_file, environ)
    values = {
        name: convert(name, merged[ENV_NAMES[name]])
        for name in BROWSER_SETTINGS
        if merged.get(ENV_NAMES[name])
    }
    flagged = flag_values({name: flags.get(name) for name in BROWSER_SETTINGS})
    values |= flagged
    Settings(**values, labels={setting: flag_name(setting) for setting in flagged})
    return values


def with_values(settings: Settings, **changes: Any) -> Settings:
    """A copy with some settings replaced (secrets given here enter the redactor too)."""
    for name in SECRET_SETTINGS & changes.keys():
        REDACTOR.add(changes[name], label=settings.env_name(name))
    labels = {k: v for k, v in settings.labels.items() if k not in changes}
    return replace(settings, **changes, labels=labels)
