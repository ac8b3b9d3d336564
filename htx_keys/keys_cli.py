"""`htx-keys verify` and `htx-keys keys ...`: working with keys that already exist."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from automation.errors import ConfigError, VerifyError
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.store import KeyRecord, Store, open_store
from htx_keys.account_cli import account_options
from htx_keys.options import command_settings, output_options, site_options, store_option


def _parent_for_reading(store: Store, record: KeyRecord, cache: dict[str, Any]) -> Any:
    """A sub-user's key cannot list keys; its parent's stored key reads it back instead."""
    if record.sub_uid is None:
        return None
    if record.account not in cache:
        from htx_keys.subuser import pick_parent

        try:
            cache[record.account] = pick_parent(store, record.account, None, need_trade=False)
        except ConfigError:
            cache[record.account] = None
    return cache[record.account]


@click.command()
@click.argument("access_key", required=False)
@store_option
@output_options
@site_options
@account_options
def verify(
    access_key: str | None,
    store_spec: str | None,
    fmt: str,
    quiet: bool,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Check stored keys with signed REST calls: they work and read back as stored.

    Checks ACCESS_KEY, or every key in the store. A key bound to IP addresses other than this
    machine's cannot be checked from here and is reported as skipped. Exits 10 when any key
    fails.
    """
    from flows.htx.verify import verify_key

    settings = command_settings(base_url, api_url, env_file, account, config_file, store=store_spec)
    store = open_store(settings.store)
    records = [store.load(access_key)] if access_key else store.list()
    if not records:
        raise ConfigError(f"No keys in {store.location}")
    reporter = Reporter(quiet=quiet)
    parents: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for record in records:
        reporter.info(f"checking {record.access_key} ({record.note})")
        result = verify_key(settings.api_url, record, _parent_for_reading(store, record, parents))
        rows.append(
            {
                "access_key": record.access_key,
                "note": record.note,
                "sub_uid": record.sub_uid,
                "verified": result.verified,
                "read_back": result.read_back,
                "verification_note": result.reason,
            }
        )
        if result.verified is False:
            failed.append(record.access_key)
    if fmt == "json":
        click.echo(REDACTOR.scrub(json.dumps(rows, indent=2)))
    else:
        words = {True: "ok", False: "FAILED", None: "skipped"}
        for row in rows:
            line = f"{row['access_key']}  {words[row['verified']]:<7}  {row['note']}"
            if row["verification_note"]:
                line += f"  ({row['verification_note']})"
            click.echo(REDACTOR.scrub(line))
    if failed:
        raise VerifyError(f"{len(failed)} of {len(rows)} keys failed: {', '.join(failed)}")


@click.group()
def keys() -> None:
    """Manage existing keys."""


def _add_lifecycle_commands() -> None:
    from htx_keys.lifecycle_cli import list_keys, reconcile, revoke, rotate

    for command in (list_keys, revoke, rotate, reconcile):
        keys.add_command(command)


_add_lifecycle_commands()
