"""`htx-keys account ...`: named accounts, their settings in a file, their secrets in the keyring.

Secrets are only ever asked for with hidden prompts (never flags: argv is visible in `ps`),
and nothing here prints one: `list` says held or missing, `set` says stored or kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from automation.errors import ConfigError, InputError
from automation.schema import (
    ENV_NAMES,
    FILE_SETTINGS,
    PATH_SETTINGS,
    SECRETS,
    account_env_name,
    convert,
)
from flows.htx.limits import check_ips, check_permissions
from htx_keys.cli.console import echo, echo_err
from htx_keys.cli.options import config_option, ip_option, permission_option

F = TypeVar("F", bound=Callable[..., Any])
SEED_ATTEMPTS = 3


def _setting_options(func: F) -> F:
    """One optional flag per non-secret setting: --email, --imap-host, --imap-port, ..."""
    for name in reversed(FILE_SETTINGS):
        func = click.option(
            f"--{name.replace('_', '-')}",
            name,
            metavar=name.upper().removeprefix("IMAP_").removeprefix("MAIL_"),
            help=f"Save {name} in the account's table (what {ENV_NAMES[name]} sets).",
        )(func)
    return func


def _name(name: str) -> str:
    from automation.accounts import check_name

    try:
        return check_name(name)
    except ConfigError as exc:
        raise InputError(exc.message) from None


def _file_values(given: Mapping[str, str | None]) -> dict[str, Any]:
    """Flag values checked by the same converters as the environment's, in the file's form."""
    values: dict[str, Any] = {}
    for name, raw in given.items():
        if raw is None:
            continue
        flag = f"--{name.replace('_', '-')}"
        if not raw.strip():
            raise InputError(f"{flag} cannot be empty")
        try:
            value = convert(name, raw, label=flag)
        except ConfigError as exc:
            raise InputError(exc.message) from None
        if name in PATH_SETTINGS:
            # "~/ca.pem" stays portable; a relative path would change meaning with the cwd.
            value = raw if raw.startswith("~") else os.path.abspath(raw)
        values[name] = value
    return values


def _ask(prompt: str) -> str:
    value: str = click.prompt(prompt, hide_input=True, err=True, default="", show_default=False)
    return value


def _ask_secrets(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(the secrets typed in, what happens to each: "stored", "kept" or "not set")."""
    from automation.accounts import stored_secret
    from automation.otp import validate_secret
    from automation.redaction import REDACTOR

    entered: dict[str, str] = {}
    outcome: dict[str, str] = {}
    for setting, label in SECRETS:
        held = stored_secret(name, setting) is not None
        hint = "Enter keeps the stored one" if held else "Enter skips"
        prompt = f"{label[0].upper()}{label[1:]} for account '{name}' (hidden; {hint})"
        for attempt in range(1, SEED_ATTEMPTS + 1):
            value = _ask(prompt)
            REDACTOR.add(value, label=account_env_name(name, setting))  # before any output
            if not value or setting != "totp_secret":
                break
            try:
                value = validate_secret(value)
                break
            except ConfigError:
                message = "That is not a valid base32 Google Authenticator seed"
                if attempt == SEED_ATTEMPTS:
                    raise ConfigError(f"{message} (asked {SEED_ATTEMPTS} times)") from None
                echo_err(f"htx-keys: {message}; try again")
        if value:
            entered[setting] = value
            outcome[setting] = "stored"
        else:
            outcome[setting] = "kept" if held else "not set"
    return entered, outcome


def _require_keyring(name: str, doing: str) -> None:
    from automation.accounts import ACCOUNTS_SERVICE
    from automation.store import keyring_usable

    ok, reason = keyring_usable(ACCOUNTS_SERVICE)
    if not ok:
        names = ", ".join(account_env_name(name, setting) for setting, _label in SECRETS)
        raise ConfigError(
            f"No usable OS keyring ({reason}), so the secrets of account '{name}' cannot be "
            f"{doing}; put them in {names} instead"
            + (" and run with --file-only" if doing == "stored" else "")
        )


@click.group("account")
def account() -> None:
    """Named accounts: settings in an accounts file, secrets in the OS keyring.

    `htx-keys account set main --email me@example.com --imap-host imap.gmail.com` asks for
    the password, TOTP seed and IMAP password with hidden input; then every command takes
    `--account main`. The file ($XDG_CONFIG_HOME/htx-keys/accounts.toml, or --config, or
    HTX_KEYS_CONFIG) never holds a secret; HTX_PASSWORD_MAIN etc. override the keyring.
    """


@account.command("set")
@click.argument("name")
@config_option
@_setting_options
@permission_option(help="Default permissions for `provision`; repeatable or comma separated.")
@ip_option("Default IP addresses or IPv4 ranges for `provision`; repeatable or comma separated.")
@click.option(
    "--file-only",
    is_flag=True,
    help="Only write the accounts file; ask for no secret (they then come from "
    "HTX_PASSWORD_<NAME> etc.).",
)
def set_account(
    name: str,
    config_file: Path | None,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    file_only: bool,
    **settings: str | None,
) -> None:
    """Create or update account NAME: its secrets in the keyring, its settings in the file.

    Asks for the password, the TOTP seed (the base32 key shown when Google Authenticator was
    bound) and the IMAP password with hidden input; Enter keeps what the keyring holds.
    """
    from automation.accounts import ACCOUNTS_SERVICE, accounts_path, store_secret
    from automation.accounts_file import plan_update, update_accounts
    from automation.config import tool_environ

    name = _name(name)
    path = accounts_path(config_file, tool_environ())
    updates = _file_values(settings)
    if permissions:
        updates["permissions"] = list(check_permissions(permissions, allow_withdraw=True))
    if ips:
        updates["ip_addresses"] = list(check_ips(ips))
    plan_update(path, name, updates)  # a file that cannot take the change fails before prompts
    outcome: dict[str, str] = {}
    if not file_only:
        _require_keyring(name, "stored")
        entered, outcome = _ask_secrets(name)
        for setting, value in entered.items():
            store_secret(name, setting, value)
    # Planned again, under the file's lock: it may have changed while the prompts waited.
    changed = update_accounts(path, name, updates)
    lines = [f"Account '{name}': {path} {'updated' if changed else 'unchanged'}"]
    for setting, label in SECRETS:
        if setting in outcome:
            where = f" in the keyring (service {ACCOUNTS_SERVICE})" * (outcome[setting] == "stored")
            lines.append(f"  {label:<14} {outcome[setting]}{where}")
    echo("\n".join(lines))


@account.command("list")
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="How to print the accounts (never a secret: only whether each is held).",
)
def list_accounts(config_file: Path | None, fmt: str) -> None:
    """List the accounts: name, email and which secrets are held (environment or keyring)."""
    from automation.accounts import accounts_path, read_accounts, read_secrets
    from automation.config import tool_environ

    environ = tool_environ()
    path = accounts_path(config_file, environ)
    rows: list[dict[str, Any]] = []
    problem = ""
    for name, found in read_accounts(path).items():
        secrets = read_secrets(name, environ)
        problem = problem or secrets.keyring_problem
        rows.append({"name": name, "email": found.entries.get("email"), "secrets": secrets.status})
    if problem:
        echo_err(
            f"htx-keys: note: the OS keyring could not be read ({problem}); "
            "secrets not in the environment show as unknown"
        )
    if fmt == "json":
        echo(json.dumps(rows, indent=2))
        return
    if not rows:
        echo_err(f"No accounts in {path}")
        return
    table = [["NAME", "EMAIL", *(label.upper() for _setting, label in SECRETS)]]
    for row in rows:
        held = [row["secrets"][setting] for setting, _label in SECRETS]
        table.append([row["name"], row["email"] or "-", *held])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    text = "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    )
    echo(text)


@account.command("remove")
@click.argument("name")
@config_option
@click.option(
    "--from-file",
    is_flag=True,
    help="Also remove the account's table from the accounts file.",
)
def remove_account(name: str, config_file: Path | None, from_file: bool) -> None:
    """Delete account NAME's secrets from the keyring (and with --from-file, its table)."""
    from automation.accounts import accounts_path, delete_secret, read_accounts
    from automation.accounts_file import plan_removal, remove_table
    from automation.config import tool_environ

    name = _name(name)
    path = accounts_path(config_file, tool_environ())
    text = plan_removal(path, name) if from_file else None
    _require_keyring(name, "removed")
    removed = [label for setting, label in SECRETS if delete_secret(name, setting)]
    if text is not None:
        remove_table(path, name)  # planned again under the file's lock
    if not removed and text is None:
        table = f" and {path} has no [accounts.{name}]" if from_file else ""
        raise ConfigError(
            f"Nothing to remove: the keyring holds no secret of account '{name}'{table}"
        )
    parts = [
        f"removed {', '.join(removed)} from the keyring" if removed else "no secret in the keyring"
    ]
    if text is not None:
        parts.append(f"removed [accounts.{name}] from {path}")
    elif name in read_accounts(path):
        parts.append(f"[accounts.{name}] stays in {path} (--from-file removes it)")
    echo(f"Account '{name}': {'; '.join(parts)}")
