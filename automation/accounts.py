"""Named accounts: their settings in a TOML accounts file, their secrets in the OS keyring.

The file holds no secret, ever: it is meant to be copied between machines and read by
editors, so a password found in it is an error, not a value. An account's secrets come from
its own variables (HTX_PASSWORD_<NAME>, ...) or the keyring (service "htx-keys-accounts",
username "<NAME>/<setting>", a long one split by automation.keyring_chunks), and enter the
redactor as they are read.

The file is edited in place (only the account's own lines change, comments elsewhere stay)
and every edit is parsed back and compared before it replaces the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.errors import ConfigError, StoreError
from automation.platform_dirs import native_dir
from automation.redaction import REDACTOR
from automation.schema import (
    CONFIG_ENV,
    FILE_SETTINGS,
    NUMBER_SETTINGS,
    PATH_SETTINGS,
    SECRET_SETTINGS,
    SECRETS,
    account_env_name,
    convert,
)
from automation.store_base import one_line

ACCOUNTS_SERVICE = "htx-keys-accounts"
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
SECRET_NOUNS = {
    "password": "passwords",
    "totp_secret": "TOTP seeds",
    "imap_password": "passwords",
    "imap_oauth_client_secret": "OAuth2 client secrets",
    "imap_oauth_refresh_token": "OAuth2 refresh tokens",
}
LIST_KEYS = ("permissions", "ip_addresses")
# A locked keyring may wait for an unlock dialog; long enough for a person, not forever.
KEYRING_READ_TIMEOUT = 30.0


@dataclass(frozen=True)
class Account:
    """One [accounts.NAME] table, checked: `entries` converted, `table` as in the file."""

    name: str
    path: Path
    entries: dict[str, Any]
    permissions: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    table: dict[str, Any]


@dataclass(frozen=True)
class Secrets:
    """An account's secrets as found, and per secret "held", "missing" or "unknown"."""

    values: dict[str, str]
    status: dict[str, str]
    keyring_problem: str


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"Account name {name!r} may hold only letters, digits, '_' and '-'")
    return name


def accounts_path(config_file: Path | None, environ: Mapping[str, str]) -> Path:
    """--config, else HTX_KEYS_CONFIG, else $XDG_CONFIG_HOME/htx-keys/accounts.toml (on macOS
    and Windows without XDG_CONFIG_HOME: the platform's folder, automation.platform_dirs).

    Absolute, so messages name the file unambiguously and paths in it resolve against it.
    """
    if config_file is not None:
        return Path(os.path.abspath(Path(config_file).expanduser()))
    if environ.get(CONFIG_ENV):
        return Path(os.path.abspath(Path(environ[CONFIG_ENV]).expanduser()))
    native = native_dir("config", environ)
    if native is not None:
        return native / "accounts.toml"
    base = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "htx-keys" / "accounts.toml"


def read_document(path: Path) -> tuple[str, dict[str, Any]] | None:
    """The file's text and its parsed form; None when there is no file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc.__class__.__name__}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def read_accounts(path: Path) -> dict[str, Account]:
    """The checked accounts of a file, in file order; {} when there is no file."""
    document = read_document(path)
    return {} if document is None else parse_accounts(document[1], path)


def parse_accounts(data: Mapping[str, Any], path: Path) -> dict[str, Account]:
    for key in data:
        if key != "accounts":
            raise ConfigError(f"{path}: unknown key {key!r}; accounts go in [accounts.NAME] tables")
    tables = data.get("accounts", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'accounts' must hold [accounts.NAME] tables")
    accounts: dict[str, Account] = {}
    suffixes: dict[str, str] = {}
    for name, table in tables.items():
        if not NAME_PATTERN.fullmatch(name):
            raise ConfigError(
                f"{path}: account name {name!r} may hold only letters, digits, '_' and '-'"
            )
        # 'Main' and 'main', or 'a-b' and 'a_b', would read the same HTX_PASSWORD_<NAME>.
        suffix = account_env_name(name, "password")
        if suffix in suffixes:
            raise ConfigError(
                f"{path}: accounts '{suffixes[suffix]}' and '{name}' would share the variable "
                f"{suffix}; rename one"
            )
        suffixes[suffix] = name
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: account '{name}' must be a table ([accounts.{name}])")
        accounts[name] = _parse_table(path, name, table)
    return accounts


def _parse_table(path: Path, name: str, table: dict[str, Any]) -> Account:
    where = f"{path}: account '{name}'"
    entries: dict[str, Any] = {}
    lists: dict[str, tuple[str, ...]] = {}
    for key, value in table.items():
        if key in SECRET_SETTINGS:
            fix = f"`htx-keys account set {name}`"
            if key.startswith("imap_oauth"):
                fix = f"`htx-keys mail login --account {name}` or {account_env_name(name, key)}"
            raise ConfigError(
                f"{where}: {key}: {SECRET_NOUNS[key]} do not belong in this file; use {fix}"
            )
        if key in LIST_KEYS:
            if not isinstance(value, list) or not all(
                isinstance(item, str) and item.strip() for item in value
            ):
                raise ConfigError(f"{where}: {key} must be a list of non-empty strings")
            lists[key] = tuple(item.strip() for item in value)
        elif key in FILE_SETTINGS:
            entries[key] = _parse_value(path, where, key, value)
        else:
            known = ", ".join(sorted((*FILE_SETTINGS, *LIST_KEYS)))
            raise ConfigError(f"{where}: unknown key {key!r} (known keys: {known})")
    return Account(
        name=name,
        path=path,
        entries=entries,
        permissions=lists.get("permissions", ()),
        ip_addresses=lists.get("ip_addresses", ()),
        table=dict(table),
    )


def _parse_value(path: Path, where: str, key: str, value: Any) -> Any:
    numeric = key in NUMBER_SETTINGS and isinstance(value, int | float)
    if isinstance(value, bool) or not (isinstance(value, str) or numeric):
        kind = "a number" if key in NUMBER_SETTINGS else "a string"
        raise ConfigError(f"{where}: {key} must be {kind}")
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{where}: {key} is empty")
    converted = convert(key, str(value), label=f"{where}: {key}")
    if key in PATH_SETTINGS and not converted.is_absolute():
        # Relative to the file, not to wherever the command happens to run.
        converted = path.parent / converted
    return converted


def resolve_account(
    name: str, config_file: Path | None, environ: Mapping[str, str]
) -> tuple[Account, Secrets]:
    """The named account and its secrets, or a ConfigError saying which accounts exist."""
    path = accounts_path(config_file, environ)
    check_name(name)
    accounts = read_accounts(path)
    if name not in accounts:
        raise ConfigError(unknown_account(name, path, accounts))
    return accounts[name], read_secrets(name, environ)


def mailbox_sharers(path: Path, name: str, host: str, user: str) -> tuple[str, ...]:
    """The emails of the file's other accounts that read the mailbox `user` at `host` (their
    imap_user, else their email, and their imap_host, else ours, as the environment would
    give both). A mail naming none of its recipients then cannot be told to be ours."""
    found = []
    for other, account in read_accounts(path).items():
        email = account.entries.get("email")
        if other == name or not isinstance(email, str):
            continue
        their_host = str(account.entries.get("imap_host") or host)
        their_user = str(account.entries.get("imap_user") or email)
        if (their_host.lower(), their_user.lower()) == (host.lower(), user.lower()):
            found.append(email)
    return tuple(found)


def unknown_account(name: str, path: Path, accounts: Mapping[str, Account]) -> str:
    create = f"create it with `htx-keys account set {name}`"
    if not path.exists():
        return f"No account '{name}': {path} does not exist; {create}"
    if not accounts:
        return f"No account '{name}' in {path}: it holds no accounts; {create}"
    return f"No account '{name}' in {path}; the accounts there are: {', '.join(accounts)}"


# --- secrets -------------------------------------------------------------------------------


def keyring_username(name: str, setting: str) -> str:
    return f"{name}/{setting}"


def _backend_problem() -> str:
    """Why keyring cannot be read at all ("" when it can be tried)."""
    import keyring  # on first use: most runs read no secret from it (~40 ms)
    import keyring.backends.fail
    import keyring.backends.null

    try:
        backend = keyring.get_keyring()
    except Exception as exc:
        return f"keyring could not load a backend: {one_line(exc)}"
    if isinstance(backend, keyring.backends.fail.Keyring):
        return "keyring found no backend"
    if isinstance(backend, keyring.backends.null.Keyring):
        return "keyring is disabled"
    return ""


def _keyring_read(name: str, settings: list[str]) -> tuple[dict[str, str], str]:
    """The secrets the keyring holds for these settings, and why it could not answer."""
    problem = _backend_problem()
    if problem:
        return {}, problem
    found: dict[str, str | None] = {}
    errors: list[str] = []

    from automation.keyring_chunks import read_long

    def work() -> None:
        try:
            for setting in settings:
                username = keyring_username(name, setting)
                found[setting] = read_long(ACCOUNTS_SERVICE, username)
        except Exception as exc:
            errors.append(one_line(exc))

    # A thread, because a locked keyring can block on an unlock prompt nobody sees.
    worker = threading.Thread(target=work, name="keyring-read", daemon=True)
    worker.start()
    worker.join(KEYRING_READ_TIMEOUT)
    if worker.is_alive():
        return {}, f"it did not answer within {KEYRING_READ_TIMEOUT:g} s (locked?)"
    values = {setting: value for setting, value in dict(found).items() if value}
    return values, errors[0] if errors else ""


def read_secrets(name: str, environ: Mapping[str, str]) -> Secrets:
    """HTX_PASSWORD_<NAME> etc. first, then the keyring; only the account's own sources."""
    values: dict[str, str] = {}
    # Every secret may come from the account's own variable; only SECRETS from the keyring
    # (the OAuth2 refresh token has its own entry there: automation.oauth_keyring).
    for setting in sorted(SECRET_SETTINGS):
        value = environ.get(account_env_name(name, setting))
        if value:
            values[setting] = value
    wanted = [setting for setting, _label in SECRETS if setting not in values]
    problem = ""
    if wanted:
        from_keyring, problem = _keyring_read(name, wanted)
        values.update(from_keyring)
    for setting, value in values.items():
        REDACTOR.add(value, label=account_env_name(name, setting))
    unread = "unknown" if problem else "missing"
    status = {setting: "held" if setting in values else unread for setting, _label in SECRETS}
    return Secrets(values=values, status=status, keyring_problem=problem)


def _call(action: str, fn: Callable[..., Any], name: str, setting: str, *value: str) -> Any:
    username = keyring_username(name, setting)
    try:
        return fn(ACCOUNTS_SERVICE, username, *value)
    except Exception as exc:
        raise StoreError(
            f"Keyring ({ACCOUNTS_SERVICE}) failed to {action} {username}: {one_line(exc)}"
        ) from exc


def stored_secret(name: str, setting: str) -> str | None:
    """What the keyring holds now (for "Enter keeps the stored value")."""
    from automation.keyring_chunks import read_long

    value: str | None = _call("read", read_long, name, setting)
    REDACTOR.add(value, label=account_env_name(name, setting))
    return value


def store_secret(name: str, setting: str, value: str) -> None:
    """Save and read back: a secret that did not arrive must not be reported as stored."""
    from automation.keyring_chunks import write_long

    REDACTOR.add(value, label=account_env_name(name, setting))
    _call("store", write_long, name, setting, value)
    if stored_secret(name, setting) != value:
        username = keyring_username(name, setting)
        raise StoreError(f"Keyring ({ACCOUNTS_SERVICE}) returned something else for {username}")


def delete_secret(name: str, setting: str) -> bool:
    """Remove one secret; False when there was none."""
    import keyring.errors

    from automation.keyring_chunks import delete_long

    if stored_secret(name, setting) is None:
        return False
    with contextlib.suppress(keyring.errors.PasswordDeleteError):  # gone in between
        _call("delete", delete_long, name, setting)
    return True
