"""`htx-keys keys list | revoke | rotate | reconcile`: keys over their life."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from automation.errors import ConfigError, InputError
from automation.schema import ENV_NAMES, parse_age
from htx_keys.app.web_options import WebOptions
from htx_keys.cli.consent import make_consent
from htx_keys.cli.console import echo
from htx_keys.cli.options import (
    check_parent_key,
    format_option,
    key_output_options,
    parent_key_option,
    quiet_option,
    sub_uid_option,
    web_options,
    web_run,
)

F = TypeVar("F", bound=Callable[..., Any])
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw]?)\s*$", re.I)
SOURCES = ("auto", "api", "web")


def parse_days(text: str) -> float:
    """ "14d", "36h", "2w" or a plain number of days."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r}: use a number of days like 14d, 36h or 2w")
    number, unit = float(match.group(1)), match.group(2).lower()
    if not math.isfinite(number):  # 400 digits are "inf" to float()
        raise click.BadParameter(f"{text!r}: too large; use a number of days like 14d")
    return number * {"": 1.0, "d": 1.0, "h": 1 / 24, "w": 7.0}[unit]


def check_duration(value: str | None) -> str | None:
    """Checked while parsing, so the error names the option."""
    if value is not None:
        parse_days(value)
    return value


def consent_options(goes_with: str) -> Callable[[F], F]:
    """--yes and --dry-run of a command that deletes several keys."""

    def decorate(func: F) -> F:
        func = click.option(
            "--dry-run",
            is_flag=True,
            help="Show what would be deleted, delete nothing, exit 0.",
        )(func)
        return click.option(
            "--yes",
            "-y",
            is_flag=True,
            help=f"With {goes_with}: delete without asking (needed when stdin is no terminal).",
        )(func)

    return decorate


def check_age(value: str | None) -> float | None:
    """--min-age in seconds, checked while parsing so the error names the option."""
    if value is None:
        return None
    try:
        return parse_age(value, "--min-age")
    except ConfigError as exc:
        raise click.BadParameter(exc.message.replace("--min-age must be", "must be")) from None


@click.group()
def keys() -> None:
    """Manage existing keys."""


@keys.command(name="list")
@click.option(
    "--expiring-within",
    metavar="DURATION",
    callback=lambda _ctx, _param, value: check_duration(value),
    help="Only keys that expire within DURATION (14d, 36h, 2w) or have expired; exit 14 "
    "when there are any (for scheduled CI checks).",
)
@click.option(
    "--source",
    type=click.Choice(SOURCES),
    default="auto",
    show_default=True,
    help="Where the list of keys on HTX comes from: api (GET /v2/user/api-key signed "
    "with a stored key of the account: no browser, no code), web (the API Management "
    "page, after logging in), auto (api when a stored key can sign, else web).",
)
@sub_uid_option("List this sub-user's keys instead (over REST, signed by the parent).")
@parent_key_option
@format_option(show_default=False, help="How to print the keys (never a secret).")
@quiet_option
@web_options()
def list_keys(
    expiring_within: str | None,
    source: str,
    sub_uid: int | None,
    parent_key: str | None,
    fmt: str,
    quiet: bool,
    web: WebOptions,
) -> None:
    """The keys on HTX joined with the keys stored here.

    Shows each key's note, permissions, IP addresses, remaining valid days, status, and
    whether its secret is held here; stored keys HTX no longer lists show as "not on HTX".
    """
    from automation.errors import NeedsAttention
    from htx_keys.app.keys import list_rows
    from htx_keys.app.output import key_table, render_rows

    check_parent_key(sub_uid, parent_key)
    if sub_uid is not None and source != "auto":
        raise InputError("--source is for the account's own keys; not with --sub-uid")
    days = parse_days(expiring_within) if expiring_within else None
    rows = list_rows(web_run(web, quiet=quiet), source, sub_uid, parent_key, days)
    echo(render_rows(rows) if fmt == "json" else key_table(rows))
    if days is not None and rows:
        raise NeedsAttention(f"{len(rows)} key(s) expire within {expiring_within}")


@keys.command()
@click.argument("access_key", required=False)
@click.option("--note", metavar="NOTE", help="The key(s) with this note (the tool's tag added).")
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="With --note: every key with the note, shown and confirmed before any is deleted.",
)
@consent_options("--all")
@sub_uid_option(
    "The key belongs to this sub-user: delete it over REST, signed with a stored key of the "
    "parent (no browser)."
)
@parent_key_option
@quiet_option
@web_options()
def revoke(
    access_key: str | None,
    note: str | None,
    every: bool,
    yes: bool,
    dry_run: bool,
    sub_uid: int | None,
    parent_key: str | None,
    quiet: bool,
    web: WebOptions,
) -> None:
    """Delete a key on HTX, then its local copy.

    Uses the website's own Delete flow (confirmation, emailed code, GA code). A sub-user's
    key (--sub-uid) is deleted over REST instead. A key HTX no longer lists but that is
    stored here only loses its local copy. With --all, the keys are listed and you are asked
    before the first is deleted (--yes: do not ask; needed without a terminal).
    """
    from htx_keys.app import keys as use

    use.check_target(access_key, note)
    check_parent_key(sub_uid, parent_key)
    if every and not note:
        raise InputError("--all goes with --note")
    consent = make_consent(yes, dry_run, quiet, needed=every, what="--all")
    run = web_run(web, quiet=quiet)
    use.revoke(run, access_key, note, every, sub_uid, parent_key, echo, consent)


@keys.command()
@click.argument("access_key", required=False)
@click.option("--note", metavar="NOTE", help="The key with this note (the tool's tag added).")
@click.option("--no-verify", is_flag=True, help="Do not check the new key before deleting the old.")
@sub_uid_option("The key belongs to this sub-user: rotate it over REST (no browser).")
@parent_key_option
@key_output_options
@web_options()
def rotate(
    access_key: str | None,
    note: str | None,
    no_verify: bool,
    sub_uid: int | None,
    parent_key: str | None,
    fmt: str,
    quiet: bool,
    show_secret: bool,
    export_env: bool,
    web: WebOptions,
) -> None:
    """Replace a key: a new one with the same note, permissions and IP addresses.

    The new key is created, stored and checked with signed calls, and only then is the old
    one deleted on HTX and here. Stopped at any point, at least one working key stays stored.
    """
    from htx_keys.app import keys as use
    from htx_keys.app.output import KeyOutput

    use.check_target(access_key, note)
    check_parent_key(sub_uid, parent_key)
    out = KeyOutput(fmt, show_secret, export_env)
    out.check()
    run = web_run(web, quiet=quiet, verify=not no_verify, on_key=out.on_key)
    out.report([use.rotate(run, access_key, note, sub_uid, parent_key, out.on_key)])


@keys.command()
@click.option("--revoke", "do_revoke", is_flag=True, help="Delete the orphans on HTX.")
@consent_options("--revoke")
@click.option(
    "--min-age",
    metavar="DURATION",
    callback=lambda _ctx, _param, value: check_age(value),
    help="Leave keys younger than this alone, as too new to judge: a run may be about to "
    f"store them (10m, 90s, 1h; 0: no wait) [env {ENV_NAMES['min_age']}; default 10m].",
)
@sub_uid_option(
    "Reconcile this sub-user's keys instead (over REST, signed by the parent; no browser)."
)
@parent_key_option
@format_option(show_default=False, help="How to print the orphans (never a secret).")
@quiet_option
@web_options()
def reconcile(
    do_revoke: bool,
    yes: bool,
    dry_run: bool,
    min_age: float | None,
    sub_uid: int | None,
    parent_key: str | None,
    fmt: str,
    quiet: bool,
    web: WebOptions,
) -> None:
    """Find orphans: keys this tool made (its tag in the note) whose secret is held nowhere here.

    A key is an orphan when the tool stopped between Create and storing the pair, or its
    local copy was lost. "Held" means in the store this command uses (--store), for any
    account or site: keys kept in another store count as orphans here, so list first. Keys
    younger than --min-age are left alone. An entry of the store that cannot be read stops
    the run. Without --revoke the orphans are listed and the exit status is 14 when there are
    any; with --revoke they are listed, confirmed (--yes: do not ask; needed without a
    terminal) and deleted through the website (over REST for --sub-uid). --dry-run shows what
    --revoke would delete.
    """
    from htx_keys.app.output import deletion_table, orphan_report, render_rows
    from htx_keys.app.reconcile import ReconcileOptions
    from htx_keys.app.reconcile import reconcile as use

    check_parent_key(sub_uid, parent_key)
    consent = make_consent(yes, dry_run, quiet, needed=do_revoke, what="--revoke")
    opts = ReconcileOptions(do_revoke, consent, min_age, sub_uid, parent_key)
    result = use(web_run(web, quiet=quiet), opts)
    if dry_run:
        rows = [p.row() for p in result.planned]
        echo(render_rows(rows) if fmt == "json" else deletion_table(rows))
        return
    echo(orphan_report(result.rows(), fmt))
    result.check()


def _add_lease_commands() -> None:
    """`keys reap` and `keys history` live in their own module (keys_leases.py)."""
    from htx_keys.cli.commands.keys_leases import history, reap

    keys.add_command(reap)
    keys.add_command(history)


_add_lease_commands()
