"""`htx-keys keys reap` and `keys history`: keys whose lease ran out, and the audit trail."""

from __future__ import annotations

from pathlib import Path

import click

from automation.errors import InputError
from htx_keys.app.web_options import WebOptions
from htx_keys.cli.consent import make_consent
from htx_keys.cli.console import echo
from htx_keys.cli.options import (
    account_options,
    format_option,
    quiet_option,
    site_options,
    web_options,
    web_run,
)

EVENT_CHOICES = ("create", "revoke", "rotate", "reap")


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be reaped, delete nothing, exit 0.")
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    help="Delete without asking (needed when stdin is no terminal, as on a schedule).",
)
@format_option(show_default=False, help="How to print the leased keys (never a secret).")
@quiet_option
@web_options()
def reap(yes: bool, dry_run: bool, fmt: str, quiet: bool, web: WebOptions) -> None:
    """Delete every key of the account whose lease has run out.

    A lease comes from `provision --ttl` or `exec --ttl`: its end is in the key's note, in
    the tool's tag ("ci [htx-keys until 20261130T030000Z]"), so any machine that can log in
    reaps, with or without the store that held the key. Keys without a lease (made by hand,
    or by the tool without --ttl) are never touched. Safe on a schedule: when no lease has
    run out and a stored key can list the keys over REST, no browser starts. The keys to
    delete are shown and confirmed first (--yes: do not ask); each goes through the
    website's Delete flow, and its local copy here goes too.
    """
    from htx_keys.app.output import deletion_table, render_rows
    from htx_keys.app.reap import reap as use
    from htx_keys.app.reap import reap_report

    consent = make_consent(yes, dry_run, quiet, needed=True, what="keys reap")
    result = use(web_run(web, quiet=quiet), consent)
    if dry_run:
        rows = [p.row() for p in result.planned]
        echo(render_rows(rows) if fmt == "json" else deletion_table(rows))
        return
    rows = result.rows()
    echo(render_rows(rows) if fmt == "json" else reap_report(rows))


@click.command()
@click.option("--key", "access_key", metavar="ACCESS_KEY", help="Only this key's entries.")
@click.option("--event", type=click.Choice(EVENT_CHOICES), help="Only this kind of operation.")
@click.option("--all-accounts", is_flag=True, help="Every account's entries, not only HTX_EMAIL's.")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="Only the last N entries.")
@format_option(("text", "json"), help="text: one line per entry; json: the log's own JSON objects.")
@site_options
@account_options
def history(
    access_key: str | None,
    event: str | None,
    all_accounts: bool,
    last: int | None,
    fmt: str,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    allow_insecure_transport: bool | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Show the audit trail: every create, revoke, rotate and reap, oldest first.

    Each line of the log (audit.jsonl in the state dir, or HTX_KEYS_AUDIT_LOG; mode 0600)
    is one operation: when, what, the account, the key's access key, note, permissions, IP
    addresses and lease, how it ended, and the CI run (GitHub, GitLab or a generic CI's
    id and URL) it belonged to. Never a secret.
    """
    from htx_keys.app.audit import audit_path
    from htx_keys.app.audit import history as use
    from htx_keys.app.output import render_rows
    from htx_keys.app.web_options import command_settings

    settings = command_settings(
        base_url, api_url, env_file, account, config_file,
        allow_insecure_transport=allow_insecure_transport,
    )  # fmt: skip
    if not all_accounts and not settings.email:
        raise InputError("keys history shows HTX_EMAIL's entries: set it, or --all-accounts")
    rows = use(settings, access_key=access_key, event=event, every_account=all_accounts,
               limit=last)  # fmt: skip
    if fmt == "json":
        echo(render_rows(rows))
    elif not rows:
        echo(f"No entries in {audit_path(settings)}.")
    else:
        echo("\n".join(history_line(row) for row in rows))


def history_line(entry: dict[str, object]) -> str:
    """One entry as a line: time, event, outcome, access key, note, lease, CI run."""
    parts = [str(entry.get("time", "?")), str(entry.get("event", "?")),
             str(entry.get("outcome", "?")), str(entry.get("access_key", "?"))]  # fmt: skip
    if entry.get("note"):
        parts.append(repr(entry["note"]))
    if entry.get("lease_until"):
        parts.append(f"lease until {entry['lease_until']}")
    if entry.get("replaced_by"):
        parts.append(f"replaced by {entry['replaced_by']}")
    ci = entry.get("ci")
    if isinstance(ci, dict):
        parts.append(f"{ci.get('provider', 'ci')} run {ci.get('run_id', '?')}")
        if ci.get("url"):
            parts.append(str(ci["url"]))
    return "  ".join(parts)
