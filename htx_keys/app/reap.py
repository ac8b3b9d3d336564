"""`keys reap`: delete every key of the account that the tool made with a lease
(`provision --ttl`, `exec --ttl`) once the lease has run out.

The lease is read from the key's note on HTX ("... [htx-keys until 20261130T030000Z]"), so
any machine that can log in reaps, with or without the store that held the key: a CI runner
that died before its cleanup step leaves nothing behind for long. A key without a lease (made
by hand, or by the tool without --ttl) is never touched. Safe on a schedule: the list comes
from the REST API when a stored key can sign, and when nothing has run out no browser starts;
otherwise from the API Management page. Leases are judged by this machine's clock, checked
first against the site's (HTTP Date): a clock that runs ahead would reap early, so one more
than a minute off stops the run before anything is deleted. What will be deleted is shown and
confirmed (--yes, --dry-run) before the first delete, and each key is judged again on the
page just before its delete, so a key another reaper took meanwhile is passed over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from automation.errors import ConfigError, InputError, NotFound
from flows.htx.key_list import ExchangeKey
from flows.htx.lease import describe_left, lease_of
from flows.htx.limits import has_tag
from htx_keys.app.audit import REAP
from htx_keys.app.checks import check_clock
from htx_keys.app.deletes import DELETE, Consent, Planned, approve
from htx_keys.app.lifecycle import exchange_listing, forget
from htx_keys.app.output import deletion_table
from htx_keys.app.web_run import WebRun
from htx_keys.app.web_session import WebSession, web_session

RUNNING = "lease running"
MAX_SKEW_S = 60.0  # a lease is minutes or hours; GA codes need the clock closer anyway


def judge_leases(keys: Sequence[ExchangeKey], tag: str, now: dt.datetime) -> list[Planned]:
    """The tool's keys with a lease: to delete when it has run out, else left running. Keys
    without the tool's tag, or with it and no lease, are not in the list at all."""
    planned = []
    for key in keys:
        until = lease_of(key.note, tag) if has_tag(key.note, tag) else None
        if until is None:
            continue
        verdict = DELETE if until <= now else RUNNING
        planned.append(Planned(key, verdict, f"lease {describe_left(until, now)}"))
    return planned


@dataclass
class Reaped:
    planned: list[Planned]
    reaped: list[str] = field(default_factory=list)  # access keys deleted on HTX
    left: dict[str, str] = field(default_factory=dict)  # access key -> why it was passed over
    local: dict[str, str] = field(default_factory=dict)  # access key -> its local copy's fate

    @property
    def deletable(self) -> list[Planned]:
        return [p for p in self.planned if p.verdict == DELETE]

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                **p.row(),
                "reaped": p.access_key in self.reaped,
                "left": self.left.get(p.access_key, ""),
                "local_copy": self.local.get(p.access_key, ""),
            }
            for p in self.planned
        ]


def reap(run: WebRun, consent: Consent, now: dt.datetime | None = None) -> Reaped:
    if not run.tag:
        raise InputError(
            "HTX_KEYS_NOTE_TAG is 'none': leases live in the tool's tag, so there are none to reap"
        )
    if not consent.dry_run and now is None:
        check_own_clock(run.settings.base_url)
    when = now or dt.datetime.now(dt.UTC)
    listing = exchange_listing(run.settings, run.store, run.reporter, "auto")
    if listing is not None:
        result = Reaped(judge_leases(listing.keys, run.tag, when))
        if consent.dry_run or not result.deletable:
            return result
        _approve(consent, result)
    prep = run.prepare()
    with web_session(prep, run.options, run.reporter) as session:
        page = session.keys()
        if listing is None:
            result = Reaped(judge_leases(page, run.tag, when))
            if consent.dry_run or not result.deletable:
                return result
            _approve(consent, result)
        _delete_on_site(run, session, page, result, when)
    return result


def check_own_clock(url: str) -> None:
    """Leases are judged by this machine's clock: one that runs ahead of the site's would
    reap keys early. Off by more than MAX_SKEW_S (the site's HTTP Date says), nothing is
    reaped; a site that cannot be reached or sends no Date is left to the run to find out."""
    row = check_clock(url, max_skew_s=MAX_SKEW_S)
    if row.result == "FAIL" and row.detail.startswith("this machine's clock"):
        raise ConfigError(
            f"{row.detail}: leases are judged by this machine's clock, so nothing was reaped",
            hint="sync the clock (NTP), then run `htx-keys keys reap` again",
        )


def _approve(consent: Consent, result: Reaped) -> None:
    table = deletion_table([p.row() for p in result.planned])
    approve(consent, table, len(result.deletable))


def _delete_on_site(
    run: WebRun, session: WebSession, page: list[ExchangeKey], result: Reaped, now: dt.datetime
) -> None:
    listed = {k.access_key: k for k in page}
    for planned in result.deletable:
        access_key = planned.access_key
        key = listed.get(access_key)
        until = lease_of(key.note, run.tag) if key and has_tag(key.note, run.tag) else None
        if key is None:
            result.left[access_key] = "no longer on the API Management page"
            continue
        if until is None or until > now:
            result.left[access_key] = "the page shows no lease that has run out"
            continue
        try:
            session.delete(access_key, REAP)
        except NotFound:  # another reaper (or a person) was quicker
            result.left[access_key] = "already gone from HTX"
            continue
        result.reaped.append(access_key)
        result.local[access_key] = forget(run.store, access_key)
        run.reporter.info(f"reaped {access_key} ({key.note}): lease {describe_left(until, now)}")


def reap_report(rows: Sequence[dict[str, Any]]) -> str:
    """`keys reap`'s text: each leased key and what became of it."""
    if not rows:
        return "No keys with a lease on HTX."
    lines = []
    for row in rows:
        if row["reaped"]:
            word = "Reaped"
        elif row["verdict"] == DELETE:
            word = "Not reaped"
        else:
            word = "Running"
        line = f"{word} {row['access_key']}  {row['note']}  ({row['why']})"
        if row["left"]:
            line += f": {row['left']}"
        if row["local_copy"]:
            line += f"; {row['local_copy']}"
        lines.append(line)
    return "\n".join(lines)
