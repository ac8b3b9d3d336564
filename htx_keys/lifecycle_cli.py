"""`htx-keys keys list | revoke | rotate | reconcile`: keys over their life."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from automation.errors import InputError, NeedsAttention, NotFound
from automation.redaction import REDACTOR
from automation.store import EnvFileStore, check_store, short
from flows.htx.key_list import ExchangeKey
from htx_keys.ci_output import KeyOutput, Made, key_output_options
from htx_keys.lifecycle import (
    SOURCES,
    Listing,
    exchange_listing,
    expiring,
    find_keys,
    forget,
    held_records,
    joined,
    orphans,
    rotate_key,
    web_rotation,
)
from htx_keys.options import parent_key_option, prompt_missing_secrets, sub_uid_option
from htx_keys.subuser import pick_parent
from htx_keys.subuser_lifecycle import (
    revoke_sub_user_key,
    sub_user_listing,
    sub_user_records,
    sub_user_rotation,
)
from htx_keys.web_run import WebRun, web_options
from htx_keys.web_session import web_session

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhw]?)\s*$", re.I)


def parse_days(text: str) -> float:
    """ "14d", "36h", "2w" or a plain number of days."""
    match = DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r}: use a number of days like 14d, 36h or 2w")
    number, unit = float(match.group(1)), match.group(2).lower()
    return number * {"": 1.0, "d": 1.0, "h": 1 / 24, "w": 7.0}[unit]


def check_duration(value: str | None) -> str | None:
    """Checked while parsing, so the error names the option."""
    if value is not None:
        parse_days(value)
    return value


def source_option(func: Any) -> Any:
    return click.option(
        "--source",
        type=click.Choice(SOURCES),
        default="auto",
        show_default=True,
        help="Where the list of keys on HTX comes from: api (GET /v2/user/api-key signed "
        "with a stored key of the account: no browser, no code), web (the API Management "
        "page, after logging in), auto (api when a stored key can sign, else web).",
    )(func)


@click.command(name="list")
@click.option(
    "--expiring-within",
    metavar="DURATION",
    callback=lambda _ctx, _param, value: check_duration(value),
    help="Only keys that expire within DURATION (14d, 36h, 2w) or have expired; exit 14 "
    "when there are any (for scheduled CI checks).",
)
@source_option
@sub_uid_option("List this sub-user's keys instead (over REST, signed by the parent).")
@parent_key_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@web_options
def list_keys(
    expiring_within: str | None,
    source: str,
    sub_uid: int | None,
    parent_key: str | None,
    fmt: str,
    quiet: bool,
    **web: Any,
) -> None:
    """The keys on HTX joined with the keys stored here.

    Shows each key's note, permissions, IP addresses, remaining valid days, status, and
    whether its secret is held here; stored keys HTX no longer lists show as "not on HTX".
    """
    _sub_user_only(sub_uid, parent_key)
    if sub_uid is not None and source != "auto":
        raise click.UsageError("--source is for the account's own keys; not with --sub-uid")
    days = parse_days(expiring_within) if expiring_within else None
    run = WebRun.from_options(web, quiet=quiet)
    listing: Listing | None
    if sub_uid is not None:
        listing = sub_user_listing(run.settings, run.store, sub_uid, parent_key)
        run.reporter.info(f"keys of sub-user {sub_uid} read with {listing.source}")
        records = sub_user_records(run.store, run.settings, sub_uid)
        rows = joined(listing, records, run.tag, sub_uid=sub_uid)
    else:
        listing = exchange_listing(run.settings, run.store, run.reporter, source)
        if listing is None:
            prep = run.prepare()
            with web_session(prep, run.options, run.reporter) as session:
                listing = Listing(session.keys(), "the API Management page")
        rows = joined(listing, held_records(run.store, run.settings), run.tag)
    if days is not None:
        rows = expiring(rows, days)
    if fmt == "json":
        click.echo(REDACTOR.scrub(json.dumps(rows, indent=2)))
    else:
        click.echo(REDACTOR.scrub(_table(rows)))
    if days is not None and rows:
        raise NeedsAttention(f"{len(rows)} key(s) expire within {expiring_within}")


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No keys."
    head = ("ACCESS KEY", "NOTE", "PERMISSIONS", "IP ADDRESSES", "VALID DAYS", "STATUS", "SECRET")
    lines = [head]
    for r in rows:
        valid = "permanent" if r["valid_days"] is None and r["on_exchange"] else r["valid_days"]
        lines.append(
            (
                r["access_key"],
                r["note"],
                ",".join(r["permissions"]),
                ",".join(r["ip_addresses"]) or "-",
                "-" if valid is None else str(valid),
                r["status"],
                "held" if r["secret_held"] else "not held",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _sub_user_only(sub_uid: int | None, parent_key: str | None) -> None:
    if parent_key and sub_uid is None:
        raise click.UsageError("--parent-key goes with --sub-uid")


def _target(access_key: str | None, note: str | None) -> None:
    if bool(access_key) == bool(note):
        raise InputError("Name the key by its ACCESS_KEY or by --note NOTE (one of the two)")


@click.command()
@click.argument("access_key", required=False)
@click.option("--note", metavar="NOTE", help="The key(s) with this note (the tool's tag added).")
@click.option("--all", "every", is_flag=True, help="With --note: every key with the note.")
@sub_uid_option(
    "The key belongs to this sub-user: delete it over REST, signed with a stored key of the "
    "parent (no browser)."
)
@parent_key_option
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@web_options
def revoke(
    access_key: str | None,
    note: str | None,
    every: bool,
    sub_uid: int | None,
    parent_key: str | None,
    quiet: bool,
    **web: Any,
) -> None:
    """Delete a key on HTX, then its local copy.

    Uses the website's own Delete flow (confirmation, emailed code, GA code). A sub-user's
    key (--sub-uid) is deleted over REST instead. A key HTX no longer lists but that is
    stored here only loses its local copy.
    """
    _target(access_key, note)
    _sub_user_only(sub_uid, parent_key)
    run = WebRun.from_options(web, quiet=quiet)
    if sub_uid is not None:
        if not access_key:
            raise InputError("--sub-uid needs the ACCESS_KEY of the sub-user's key")
        _revoke_sub_user(run, access_key, sub_uid, parent_key)
        return
    owner = next((r.sub_uid for r in run.store.list() if r.access_key == access_key), None)
    if owner is not None:
        raise InputError(f"Key {access_key} belongs to sub-user {owner}: add --sub-uid {owner}")
    listing = exchange_listing(run.settings, run.store, run.reporter, "auto")
    if listing is not None:
        found = find_keys(listing.keys, access_key, note, run.tag)
        if not found:
            _not_on_exchange(run, access_key, note)
            return
        _check_several(found, note, every)
    prep = run.prepare()
    with web_session(prep, run.options, run.reporter) as session:
        found = find_keys(session.keys(), access_key, note, run.tag)
        if not found:
            _not_on_exchange(run, access_key, note)
            return
        _check_several(found, note, every)
        for key in found:
            session.delete(key.access_key)
            click.echo(f"Revoked API key {key.access_key}; {forget(run.store, key.access_key)}")


def _check_several(found: list[ExchangeKey], note: str | None, every: bool) -> None:
    if len(found) > 1 and not every:
        names = ", ".join(k.access_key for k in found)
        raise InputError(
            f"{len(found)} keys have the note {note!r} ({names}): add --all to revoke them all, "
            "or name one by its access key"
        )


def _not_on_exchange(run: WebRun, access_key: str | None, note: str | None) -> None:
    """Revoking what is already gone succeeds (CI cleanups run twice); a stale local copy
    goes. Nothing anywhere by that name is an error."""
    held = [r for r in held_records(run.store, run.settings) if r.access_key == access_key]
    if access_key and held:
        click.echo(f"API key {access_key} is not on HTX; {forget(run.store, access_key)}")
        return
    what = f"key {access_key}" if access_key else f"key with the note {note!r}"
    raise NotFound(f"No {what} on HTX or in {run.store.location}")


def _revoke_sub_user(run: WebRun, access_key: str, sub_uid: int, parent_key: str | None) -> None:
    parent = pick_parent(run.store, run.settings.email or "", parent_key)
    local = revoke_sub_user_key(run.settings, run.store, parent, sub_uid, access_key, run.reporter)
    click.echo(f"Revoked API key {access_key} of sub-user {sub_uid}; {local}")


@click.command()
@click.argument("access_key", required=False)
@click.option("--note", metavar="NOTE", help="The key with this note (the tool's tag added).")
@click.option("--no-verify", is_flag=True, help="Do not check the new key before deleting the old.")
@sub_uid_option("The key belongs to this sub-user: rotate it over REST (no browser).")
@parent_key_option
@key_output_options
@web_options
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
    **web: Any,
) -> None:
    """Replace a key: a new one with the same note, permissions and IP addresses.

    The new key is created, stored and checked with signed calls, and only then is the old
    one deleted on HTX and here. Stopped at any point, at least one working key stays stored.
    """
    _target(access_key, note)
    _sub_user_only(sub_uid, parent_key)
    out = KeyOutput(fmt, show_secret, export_env)
    out.check()
    run = WebRun.from_options(web, quiet=quiet, verify=not no_verify, on_key=out.on_key)
    if isinstance(run.store, EnvFileStore):
        raise InputError(
            f"{run.store.location} holds one key, and rotating needs room for the new one "
            "beside the old: use --store keyring or json:PATH"
        )
    if sub_uid is not None:
        run.settings = prompt_missing_secrets(run.settings, ("totp_secret",))
        run.settings.require("totp_secret")
        check_store(run.store)
        listing = sub_user_listing(run.settings, run.store, sub_uid, parent_key)
        old = _one_key(listing.keys, access_key, note, run.tag)
        run.reporter.info(f"rotating {short(old.access_key)} of sub-user {sub_uid} ({old.note})")
        way = sub_user_rotation(
            run.settings, run.store, sub_uid, parent_key, run.reporter, out.on_key
        )
        result = rotate_key(way, old, run.store, run.settings, run.reporter, verify=not no_verify)
        run.reporter.info(f"old key {old.access_key} deleted on HTX; {result.old_local}")
        out.report([Made(result.record, result.stored_in, result.verification)])
        return
    prep = run.prepare(creating=True)
    with web_session(prep, run.options, run.reporter) as session:
        old = _one_key(session.keys(), access_key, note, run.tag)
        run.reporter.info(f"rotating {short(old.access_key)} ({old.note})")
        way = web_rotation(session, run.store, run.settings)
        result = rotate_key(way, old, run.store, run.settings, run.reporter, verify=not no_verify)
    run.reporter.info(f"old key {old.access_key} deleted on HTX; {result.old_local}")
    out.report([Made(result.record, result.stored_in, result.verification)])


def _one_key(
    keys: list[ExchangeKey], access_key: str | None, note: str | None, tag: str
) -> ExchangeKey:
    found = find_keys(keys, access_key, note, tag)
    if not found:
        what = f"key {access_key}" if access_key else f"key with the note {note!r}"
        raise NotFound(f"No {what} on HTX")
    if len(found) > 1:
        names = ", ".join(k.access_key for k in found)
        raise InputError(f"{len(found)} keys have the note {note!r} ({names}): name one")
    return found[0]


@click.command()
@click.option("--revoke", "do_revoke", is_flag=True, help="Delete the orphans on HTX.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
@web_options
def reconcile(do_revoke: bool, fmt: str, quiet: bool, **web: Any) -> None:
    """Find orphans: keys this tool made (its tag in the note) whose secret is held nowhere here.

    A key is an orphan when the tool stopped between Create and storing the pair, or its
    local copy was lost. "Held" means in the store this command uses (--store): keys kept in
    another store count as orphans here, so list first. Without --revoke they are listed and the
    exit status is 14 when there are any; with --revoke each is deleted through the website.
    """
    run = WebRun.from_options(web, quiet=quiet)
    if not run.tag:
        raise InputError(
            "HTX_KEYS_NOTE_TAG is 'none': without a tag the tool cannot tell its keys from "
            "keys made by hand"
        )
    listing = None if do_revoke else exchange_listing(run.settings, run.store, run.reporter, "auto")
    if listing is not None:
        _report_orphans(orphans(listing.keys, held_records(run.store, run.settings), run.tag), fmt)
        return
    prep = run.prepare()
    with web_session(prep, run.options, run.reporter) as session:
        found = orphans(session.keys(), held_records(run.store, run.settings), run.tag)
        if not do_revoke or not found:
            _report_orphans(found, fmt)
            return
        for key in found:
            session.delete(key.access_key)
            run.reporter.info(f"orphan {key.access_key} ({key.note}) deleted")
    _print_orphans(found, fmt, revoked=True)


def _report_orphans(found: list[ExchangeKey], fmt: str) -> None:
    _print_orphans(found, fmt, revoked=False)
    if found:
        raise NeedsAttention(
            f"{len(found)} orphan key(s) on HTX: `htx-keys keys reconcile --revoke` deletes them"
        )


def _print_orphans(found: list[ExchangeKey], fmt: str, *, revoked: bool) -> None:
    if fmt == "json":
        rows = [dict(k.to_dict(), revoked=revoked) for k in found]
        click.echo(REDACTOR.scrub(json.dumps(rows, indent=2)))
        return
    if not found:
        click.echo("No orphans: every key this tool made on HTX is held here.")
        return
    word = "Revoked orphan" if revoked else "Orphan"
    for key in found:
        click.echo(REDACTOR.scrub(f"{word} {key.access_key}  {key.note}  created {key.created_at}"))
