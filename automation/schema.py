"""The one schema of settings: each setting's environment name, which are secrets, how a
raw value is read. automation.config (flags > environment > .env) and automation.accounts
(the accounts file, the keyring) both build on it; it imports neither."""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automation.errors import ConfigError, HtxKeysError
from automation.hosts import safe_url, url_problem

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
    "code_command": "HTX_KEYS_CODE_COMMAND",
    "store": "HTX_KEYS_STORE",
    "browser": "HTX_KEYS_BROWSER",
    "browser_channel": "HTX_KEYS_BROWSER_CHANNEL",
    "state_dir": "HTX_KEYS_STATE_DIR",
    "note_tag": "HTX_KEYS_NOTE_TAG",
    "totp_period": "HTX_TOTP_PERIOD",
    "site_file": "HTX_KEYS_SITE_FILE",
    "session": "HTX_KEYS_SESSION",
    "cdp_endpoint": "HTX_KEYS_CDP_ENDPOINT",
    "ws_endpoint": "HTX_KEYS_WS_ENDPOINT",
    "allow_insecure_transport": "HTX_KEYS_ALLOW_INSECURE_TRANSPORT",
    "min_age": "HTX_KEYS_MIN_AGE",
    "audit_log": "HTX_KEYS_AUDIT_LOG",
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


# Settings of the tool and this machine, not of an account: totp_period is for a test
# sandbox, the site file and the age a key needs before `keys reconcile` judges it are the
# tool's (whichever account), the saved session, the remote browser and whether plain text
# may cross the network belong to where it runs. They are set in the environment or .env (or
# by flags), never in the accounts file.
TOOL_SETTINGS = frozenset(
    {
        "totp_period",
        "site_file",
        "browser_channel",
        "session",
        "cdp_endpoint",
        "ws_endpoint",
        "allow_insecure_transport",
        "min_age",
        "audit_log",
    }
)
# Which settings an accounts file may hold (never a secret), and how they are kept there.
FILE_SETTINGS = tuple(name for name in ENV_NAMES if name not in SECRET_SETTINGS | TOOL_SETTINGS)
PATH_SETTINGS = ("imap_ca_file", "state_dir", "site_file", "audit_log")
NUMBER_SETTINGS = ("imap_port", "mail_timeout")
# The URL settings and the schemes each takes; the site's are bases that paths are added to.
URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "base_url": ("http", "https"),
    "api_url": ("http", "https"),
    "cdp_endpoint": ("http", "https", "ws", "wss"),
    "ws_endpoint": ("ws", "wss"),
    # The OAuth2 endpoints of the mailbox's provider: plain http only as the others (this
    # machine, or --allow-insecure-transport), tokens cross them.
    "imap_oauth_token_url": ("http", "https"),
    "imap_oauth_auth_url": ("http", "https"),
    "imap_oauth_device_url": ("http", "https"),
}
SITE_URLS = ("base_url", "api_url")
SESSION_EXPORT_PREFIX = "htx-keys-session:1:"  # automation/session.py EXPORT_PREFIX
SESSION_KINDS = "keyring, file:PATH, env:VAR or none"
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
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
        if not math.isfinite(seconds):  # nan would make every wait endless
            raise ConfigError(f"{env} must be a finite number of seconds, not {raw.strip()!r}")
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
    if name == "imap_oauth_tenant":
        if not TENANT_PATTERN.fullmatch(raw.strip()):
            raise ConfigError(f"{env} must be a tenant name or id (common, consumers, ...)")
        return raw.strip()
    if name == "imap_oauth_token_command":
        token_command_argv(raw, env)  # a quoting mistake is found here, before anything runs
        return raw.strip()
    if name in URL_SCHEMES:
        url = check_url(name, raw.strip(), env)
        return url.rstrip("/") if name in SITE_URLS else url
    if name == "session":
        return check_session(raw, env)
    if name == "browser_channel":
        from automation.browser import CHANNELS

        channel = raw.strip().lower()
        if channel not in CHANNELS:
            raise ConfigError(f"{env} must be one of {', '.join(CHANNELS)}; not {raw!r}")
        return channel
    if name == "allow_insecure_transport":
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ConfigError(f"{env} must be 1 or 0 (true/false, yes/no, on/off), not {raw!r}")
        return word in TRUE_WORDS
    if name == "min_age":
        return parse_age(raw, env)
    if name == "code_command":
        return check_command_line(raw, env)
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


def token_command_argv(raw: str, label: str, *, posix: bool = os.name != "nt") -> list[str]:
    """The token command as the argv it runs (no shell), split as the code command is
    (split_command_line: a POSIX shell's rules; on Windows backslashes stay)."""
    try:
        argv = split_command_line(raw, windows=not posix)
    except ValueError as exc:
        raise ConfigError(f"{label} cannot be split into a command: {exc}") from None
    if not argv:
        raise ConfigError(f"{label} is empty")
    return argv


def check_url(name: str, url: str, label: str) -> str:
    """The URL when its scheme, host and port fit the setting; a ConfigError naming it if not
    (without any user name, password or query the URL may carry: they can be secrets)."""
    problem = url_problem(url, URL_SCHEMES[name], site=name in SITE_URLS)
    if problem is None:
        return url
    shown = safe_url(url)
    raise ConfigError(f"{label} {shown!r} {problem}" if shown else f"{label} {problem}")


def check_session(spec: str, label: str) -> str:
    """keyring | file:PATH | none, as automation.session opens them."""
    kind, _, arg = spec.strip().partition(":")
    if (kind in ("keyring", "none") and not arg) or (kind == "file" and arg.strip()):
        return spec.strip()
    if kind == "env" and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", arg.strip()):
        return spec.strip()
    raise ConfigError(f"{label} must be {SESSION_KINDS}, not {spec!r}")


def parse_age(raw: str, label: str) -> float:
    """Seconds from "10m", "90s", "1h", "2d" or a plain number of minutes; 0 turns the wait off."""
    match = AGE_PATTERN.match(raw)
    if not match:
        raise ConfigError(f"{label} must be a duration like 10m, 90s or 1h, not {raw!r}")
    number, unit = float(match.group(1)), (match.group(2) or "m").lower()
    if not math.isfinite(number):  # 400 digits are "inf" to float()
        raise ConfigError(f"{label} must be a duration like 10m, 90s or 1h, not that large")
    return number * AGE_UNITS[unit]


def split_command_line(raw: str, *, windows: bool | None = None) -> list[str]:
    """The words of a command line, split the way a shell would (shlex, POSIX rules). On
    Windows backslashes stay (they separate a path's folders) and quotes only group words."""
    if not (os.name == "nt" if windows is None else windows):
        return shlex.split(raw)
    words = shlex.split(raw, posix=False)
    return [w[1:-1] if len(w) > 1 and w[0] == w[-1] and w[0] in "\"'" else w for w in words]


def find_program(program: str, label: str, error: type[HtxKeysError] = ConfigError) -> str:
    """The path a command's program runs from: a path to an executable file (~ expanded), or a
    name found on PATH; `error` naming `label` when it is neither."""
    if os.sep in program or (os.altsep and os.altsep in program):
        path = os.path.expanduser(program)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise error(f"{label}: {program} is not an executable file")
        return path
    found = shutil.which(program)
    if found is None:
        raise error(f"{label}: {program}: command not found (on PATH)")
    return found


def check_command_line(raw: str, label: str) -> str:
    """A command line as written, once it splits into words (split_command_line): the code
    command is run without a shell."""
    try:
        words = split_command_line(raw)
    except ValueError as exc:
        raise ConfigError(f"{label} cannot be split into words: {exc}") from None
    if not words:
        raise ConfigError(f"{label} is empty")
    return raw.strip()


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """An environment for a program the tool runs (`exec`'s command, the code command):
    without the account's secrets (HTX_PASSWORD, HTX_TOTP_SECRET, HTX_IMAP_PASSWORD) and
    where its saved login is (HTX_KEYS_SESSION: a session is as good as a password while it
    lasts), in their generic and per-account forms; nor any variable that holds an exported
    session (--session env:VAR), whatever its name."""
    names = {ENV_NAMES[name] for name in (*SECRET_SETTINGS, "session")}
    return {
        key: value
        for key, value in environ.items()
        if not any(key == name or key.startswith(f"{name}_") for name in names)
        and not value.lstrip().startswith(SESSION_EXPORT_PREFIX)
    }
