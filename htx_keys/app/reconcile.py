"""`keys reconcile [--revoke] [--sub-uid N]`: the tool's keys on HTX whose secret is held
nowhere here, and, with --revoke, deleting them, but only the ones it is sure about.

The store is read whole first (an entry it cannot read stops the run); the list of keys comes
from the REST API when a stored key can sign (exact creation times, and no browser when there
is nothing to delete), else from the API Management page. What will be deleted is shown and
confirmed before the first delete, and just before each one the store is read again: a key
another run has stored meanwhile is left alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from automation.errors import InputError, NeedsAttention
from automation.store import short
from flows.htx.key_list import ExchangeKey
from htx_keys.app.deletes import (
    DELETE,
    Consent,
    Planned,
    approve,
    held_keys,
    judge_orphans,
    stored_records,
    table_offset,
)
from htx_keys.app.lifecycle import exchange_listing, held_records
from htx_keys.app.output import deletion_table
from htx_keys.app.subuser import pick_parent
from htx_keys.app.subuser_lifecycle import revoke_sub_user_key, sub_user_listing
from htx_keys.app.web_run import WebRun
from htx_keys.app.web_session import WebSession, web_session


@dataclass(frozen=True)
class ReconcileOptions:
    revoke: bool = False
    consent: Consent = field(default_factory=Consent)
    min_age: float | None = None  # seconds; None: the setting (HTX_KEYS_MIN_AGE)
    sub_uid: int | None = None
    parent_key: str | None = None


@dataclass
class Reconciled:
    planned: list[Planned]
    revoked: list[str] = field(default_factory=list)  # access keys deleted on HTX
    left: dict[str, str] = field(default_factory=dict)  # access key -> why it was spared

    @property
    def deletable(self) -> list[Planned]:
        return [p for p in self.planned if p.verdict == DELETE]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                **p.row(),
                "revoked": p.access_key in self.revoked,
                "left": self.left.get(p.access_key, ""),
            }
            for p in self.planned
        ]

    def check(self) -> None:
        """Orphans found and not deleted need a person (exit 14)."""
        done = {*self.revoked, *self.left}
        remaining = [p for p in self.deletable if p.access_key not in done]
        if remaining:
            raise NeedsAttention(
                f"{len(remaining)} orphan key(s) on HTX: `htx-keys keys reconcile --revoke` "
                "deletes them"
            )


def reconcile(run: WebRun, opts: ReconcileOptions) -> Reconciled:
    if not run.tag:
        raise InputError(
            "HTX_KEYS_NOTE_TAG is 'none': without a tag the tool cannot tell its keys from "
            "keys made by hand"
        )
    min_age = run.settings.min_age if opts.min_age is None else opts.min_age
    records = stored_records(run.store)
    held = {r.access_key for r in records}
    now = dt.datetime.now(dt.UTC)
    deleting = opts.revoke and not opts.consent.dry_run
    if opts.sub_uid is not None:
        return _sub_user(run, opts, held, now, min_age, deleting)
    listing = exchange_listing(run.settings, run.store, run.reporter, "auto")
    if listing is not None:
        result = Reconciled(judge_orphans(listing.keys, held, run.tag, now, min_age))
        if not deleting or not result.deletable:
            return result
        _approve(opts.consent, result)
    prep = run.prepare()
    with web_session(prep, run.options, run.reporter) as session:
        page = session.keys()
        if listing is None:
            offset = table_offset(page, held_records(run.store, run.settings, records))
            result = Reconciled(judge_orphans(page, held, run.tag, now, min_age, offset))
            if not deleting or not result.deletable:
                return result
            _approve(opts.consent, result)
        _delete_on_site(run, session, page, result)
    return result


def _approve(consent: Consent, result: Reconciled) -> None:
    table = deletion_table([p.row() for p in result.planned])
    approve(consent, table, len(result.deletable))


def _delete_on_site(
    run: WebRun, session: WebSession, page: list[ExchangeKey], result: Reconciled
) -> None:
    listed = {k.access_key for k in page}
    for planned in result.deletable:
        access_key = planned.access_key
        if access_key not in listed:
            result.left[access_key] = "no longer on the API Management page"
            continue
        if access_key in held_keys(run.store):
            result.left[access_key] = "stored here meanwhile"
            continue
        session.delete(access_key)
        result.revoked.append(access_key)
        run.reporter.info(f"orphan {access_key} ({planned.key.note}) deleted")


def _sub_user(
    run: WebRun,
    opts: ReconcileOptions,
    held: set[str],
    now: dt.datetime,
    min_age: float,
    deleting: bool,
) -> Reconciled:
    """A sub-user's orphans, over REST only: listed and deleted with the parent's key."""
    sub_uid = opts.sub_uid
    assert sub_uid is not None
    listing = sub_user_listing(run.settings, run.store, sub_uid, opts.parent_key)
    run.reporter.info(f"keys of sub-user {sub_uid} read with {listing.source}")
    result = Reconciled(judge_orphans(listing.keys, held, run.tag, now, min_age))
    if not deleting or not result.deletable:
        return result
    parent = pick_parent(run.store, run.settings.email or "", opts.parent_key)
    _approve(opts.consent, result)
    for planned in result.deletable:
        access_key = planned.access_key
        if access_key in held_keys(run.store):
            result.left[access_key] = "stored here meanwhile"
            continue
        revoke_sub_user_key(run.settings, run.store, parent, sub_uid, access_key, run.reporter)
        result.revoked.append(access_key)
        run.reporter.info(f"orphan {short(access_key)} of sub-user {sub_uid} deleted")
    return result
