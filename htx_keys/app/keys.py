"""`keys list | revoke | rotate | reconcile`: the use cases behind the commands.

Each takes a `WebRun` (the command's parsed web options) and a `say` that prints a line of
the result, so a partly done bulk operation has already shown what it did when it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automation.errors import InputError, NotFound, SiteError
from automation.store import EnvFileStore, check_store, short
from flows.htx.key_list import ExchangeKey
from flows.htx.limits import check_note_text
from htx_keys.app.deletes import DELETE, Consent, Planned, approve
from htx_keys.app.lifecycle import (
    Listing,
    exchange_listing,
    expiring,
    find_keys,
    forget,
    held_records,
    joined,
)
from htx_keys.app.output import Made, deletion_table
from htx_keys.app.rotation import rotate_key, web_rotation
from htx_keys.app.subuser import pick_parent
from htx_keys.app.subuser_lifecycle import (
    revoke_sub_user_key,
    sub_user_listing,
    sub_user_records,
    sub_user_rotation,
)
from htx_keys.app.web_run import WebRun
from htx_keys.app.web_session import web_session

Say = Callable[[str], None]


def list_rows(run: WebRun, source: str, sub_uid: int | None, parent_key: str | None,
              within_days: float | None) -> list[dict[str, Any]]:  # fmt: skip
    """The keys on HTX joined with those stored here; only the expiring ones with a window."""
    if sub_uid is not None:
        listing = sub_user_listing(run.settings, run.store, sub_uid, parent_key)
        run.reporter.info(f"keys of sub-user {sub_uid} read with {listing.source}")
        records = sub_user_records(run.store, run.settings, sub_uid)
        rows = joined(listing, records, run.tag, sub_uid=sub_uid)
    else:
        found = exchange_listing(run.settings, run.store, run.reporter, source)
        if found is None:
            prep = run.prepare()
            with web_session(prep, run.options, run.reporter) as session:
                found = Listing(session.keys(), "the API Management page")
        rows = joined(found, held_records(run.store, run.settings), run.tag)
    return rows if within_days is None else expiring(rows, within_days)


def check_target(access_key: str | None, note: str | None) -> None:
    if bool(access_key) == bool(note):
        raise InputError("Name the key by its ACCESS_KEY or by --note NOTE (one of the two)")
    if note:
        check_note_text(note)  # no key on HTX can carry it


def revoke(
    run: WebRun,
    access_key: str | None,
    note: str | None,
    every: bool,
    sub_uid: int | None,
    parent_key: str | None,
    say: Say,
    consent: Consent | None = None,
) -> None:
    """Delete keys on HTX (the website's Delete flow, or REST for a sub-user), then here. With
    `every` (--all) the keys are shown and confirmed first; a dry run only shows them."""
    consent = consent or Consent()
    if sub_uid is not None:
        if not access_key:
            raise InputError("--sub-uid needs the ACCESS_KEY of the sub-user's key")
        if consent.dry_run:
            theirs = sub_user_listing(run.settings, run.store, sub_uid, parent_key)
            found = find_keys(theirs.keys, access_key, None, run.tag)
            say(_plan(found) if found else f"No key {access_key} of sub-user {sub_uid} on HTX")
            return
        parent = pick_parent(run.store, run.settings.email or "", parent_key)
        local = revoke_sub_user_key(
            run.settings, run.store, parent, sub_uid, access_key, run.reporter
        )
        say(f"Revoked API key {access_key} of sub-user {sub_uid}; {local}")
        return
    owner = next((r.sub_uid for r in run.store.list() if r.access_key == access_key), None)
    if owner is not None:
        raise InputError(f"Key {access_key} belongs to sub-user {owner}: add --sub-uid {owner}")
    listing = exchange_listing(run.settings, run.store, run.reporter, "auto")
    confirmed: set[str] | None = None  # with a list read before the browser: what was agreed
    if listing is not None:
        found = find_keys(listing.keys, access_key, note, run.tag)
        if not found:
            _not_on_exchange(run, access_key, note, say, consent.dry_run)
            return
        _check_several(found, note, every)
        if consent.dry_run:
            say(_plan(found))
            return
        if every:
            approve(consent, _plan(found), len(found))
            confirmed = {k.access_key for k in found}
    prep = run.prepare()
    with web_session(prep, run.options, run.reporter) as session:
        found = find_keys(session.keys(), access_key, note, run.tag)
        if not found and listing is not None:
            # The REST list has it: a page that does not is wrong (changed, or not loaded),
            # and forgetting the local copy on its word could lose a working key.
            what = f"key {access_key}" if access_key else f"a key with the note {note!r}"
            raise SiteError(
                f"HTX's API lists {what} but the API Management page does not: nothing was "
                "deleted, here or on HTX",
                hint="run `htx-keys doctor` to check the page, then try again",
            )
        if not found:
            _not_on_exchange(run, access_key, note, say, consent.dry_run)
            return
        _check_several(found, note, every)
        if listing is None and consent.dry_run:
            say(_plan(found))
            return
        if listing is None and every:
            approve(consent, _plan(found), len(found))
        for gone in sorted((confirmed or set()) - {k.access_key for k in found}):
            say(f"API key {gone} is no longer on the API Management page: left alone")
        for key in found:
            if confirmed is not None and key.access_key not in confirmed:
                say(f"API key {key.access_key} was not among the keys confirmed: left alone")
                continue
            session.delete(key.access_key)
            say(f"Revoked API key {key.access_key}; {forget(run.store, key.access_key)}")


def _plan(keys: list[ExchangeKey]) -> str:
    return deletion_table([Planned(k, DELETE).row() for k in keys])


def _check_several(found: list[ExchangeKey], note: str | None, every: bool) -> None:
    if len(found) > 1 and not every:
        names = ", ".join(k.access_key for k in found)
        raise InputError(
            f"{len(found)} keys have the note {note!r} ({names}): add --all to revoke them all, "
            "or name one by its access key"
        )


def _not_on_exchange(
    run: WebRun, access_key: str | None, note: str | None, say: Say, dry_run: bool = False
) -> None:
    """Revoking what is already gone succeeds (CI cleanups run twice); a stale local copy
    goes. Nothing anywhere by that name is an error."""
    held = [r for r in held_records(run.store, run.settings) if r.access_key == access_key]
    if access_key and held and dry_run:
        say(f"API key {access_key} is not on HTX; its copy in {run.store.location} would go")
        return
    if access_key and held:
        say(f"API key {access_key} is not on HTX; {forget(run.store, access_key)}")
        return
    what = f"key {access_key}" if access_key else f"key with the note {note!r}"
    raise NotFound(f"No {what} on HTX or in {run.store.location}")


def rotate(
    run: WebRun,
    access_key: str | None,
    note: str | None,
    sub_uid: int | None,
    parent_key: str | None,
    on_key: Callable[[Any], None] | None,
) -> Made:
    """A new key with the old one's note, permissions and IPs; the old one goes once the new
    one is stored and checked."""
    if isinstance(run.store, EnvFileStore):
        raise InputError(
            f"{run.store.location} holds one key, and rotating needs room for the new one "
            "beside the old: use --store keyring or json:PATH"
        )
    verify = run.options.verify
    if sub_uid is not None:
        run.ask_for("totp_secret")
        run.settings.require("totp_secret")
        check_store(run.store)
        listing = sub_user_listing(run.settings, run.store, sub_uid, parent_key)
        old = one_key(listing.keys, access_key, note, run.tag)
        run.reporter.info(f"rotating {short(old.access_key)} of sub-user {sub_uid} ({old.note})")
        way = sub_user_rotation(
            run.settings, run.store, sub_uid, parent_key, run.reporter, run.options.on_key
        )
        result = rotate_key(way, old, run.store, run.settings, run.reporter, verify=verify)
    else:
        prep = run.prepare(creating=True)
        with web_session(prep, run.options, run.reporter) as session:
            old = one_key(session.keys(), access_key, note, run.tag)
            run.reporter.info(f"rotating {short(old.access_key)} ({old.note})")
            way = web_rotation(session, run.store, run.settings)
            result = rotate_key(way, old, run.store, run.settings, run.reporter, verify=verify)
    run.reporter.info(f"old key {old.access_key} deleted on HTX; {result.old_local}")
    return Made(result.record, result.stored_in, result.verification)


def one_key(
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
