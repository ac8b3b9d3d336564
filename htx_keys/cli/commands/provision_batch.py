"""`provision --accounts` / `--all-accounts`: the flags checked before anything starts, then a
key for each account (app/batch.py) and a line or JSON object per account."""

from __future__ import annotations

import datetime as dt

from automation.errors import InputError, Interrupted
from htx_keys.app.web_options import DEFAULT_JOBS, WebOptions
from htx_keys.cli.console import echo
from htx_keys.cli.options import ask_person, prompt_secrets


def provision_batch(
    accounts: tuple[str, ...],
    all_accounts: bool,
    jobs: int | None,
    *,
    note: str,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    allow_withdraw: bool,
    ttl: float | None,
    verify: bool,
    fmt: str,
    quiet: bool,
    refused: str | None,
    web: WebOptions,
) -> None:
    from automation.accounts import accounts_path
    from automation.config import tool_environ
    from htx_keys.app.batch import KeyAsk, account_names, provision_accounts, split_names
    from htx_keys.app.batch_output import check_outcomes, render_outcomes

    if accounts and all_accounts:
        raise InputError("Give --accounts or --all-accounts, not both")
    flag = "--accounts" if accounts else "--all-accounts"
    if web.account:
        raise InputError(f"{flag} names the accounts: not with --account")
    if refused:
        raise InputError(f"{refused} makes one account's keys: not with {flag}")
    if fmt not in ("text", "json"):
        raise InputError(f"--format {fmt} hands on one key: with {flag} use --format text or json")
    path = accounts_path(web.config_file, tool_environ(web.env_file))
    names = account_names(path, split_names(accounts), all_accounts)
    outcomes, interrupted = provision_accounts(
        web,
        names,
        KeyAsk(note, permissions, ips, allow_withdraw, verify, until=_until(ttl)),
        jobs=jobs or DEFAULT_JOBS,
        quiet=quiet,
        ask=ask_person,
        ask_secrets=prompt_secrets,
    )
    if outcomes:
        echo(render_outcomes(outcomes, fmt))
    if interrupted:
        raise Interrupted("interrupted: no further account was started")
    check_outcomes(outcomes)


def _until(ttl: float | None) -> dt.datetime | None:
    """--ttl: one end for every account's lease, counted from now."""
    from flows.htx.lease import lease_end

    return lease_end(ttl) if ttl is not None else None
