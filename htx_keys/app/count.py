"""`provision --count N`: make sure N keys carrying the note exist and are held here.

Only the missing ones are created, all in one browser session (one login, then one fresh GA
code and one emailed code per key). A re-run, or a run after a crash, creates only what is
missing; with a stored key of the account the check needs no browser at all.
"""

from __future__ import annotations

from automation.errors import HtxKeysError
from automation.store import check_store, short
from flows.htx.limits import KeyRequest
from htx_keys.app.lifecycle import CountPlan, check_room, exchange_listing, held_records, plan_count
from htx_keys.app.output import Made
from htx_keys.app.provisioning import check_new_key
from htx_keys.app.web_run import WebRun
from htx_keys.app.web_session import web_session


def provision_count(
    run: WebRun, request: KeyRequest, count: int, *, allow_duplicate: bool
) -> list[Made]:
    check_room(run.store, count)
    tag = run.tag
    if not allow_duplicate:
        listing = exchange_listing(run.settings, run.store, run.reporter, "auto")
        if listing is not None:
            records = held_records(run.store, run.settings)
            plan = plan_count(listing.keys, records, request, count, tag=tag, allow_duplicate=False)
            _warn_unheld(plan, run)
            if plan.missing == 0:
                run.reporter.info(f"{count} key(s) with the note {request.note!r} exist: none made")
                return _existing(plan, run, count)
    check_store(run.store)  # something will be made: the store must take it
    prep = run.prepare(creating=True)
    made: list[Made] = []
    with web_session(prep, run.options, run.reporter) as session:
        records = held_records(run.store, run.settings)
        plan = plan_count(
            session.keys(), records, request, count, tag=tag, allow_duplicate=allow_duplicate
        )
        _warn_unheld(plan, run)
        if not allow_duplicate:
            made += _existing(plan, run, count)
        run.reporter.info(
            f"{len(plan.existing)} key(s) with the note {request.note!r} held here; "
            f"creating {plan.missing}"
        )
        for n in range(1, plan.missing + 1):
            run.reporter.info(f"key {n} of {plan.missing}")
            try:
                record, stored_in = session.create(request, run.store)
            except HtxKeysError as exc:
                done = sum(1 for m in made if m.created)
                if done:
                    more = (
                        f"the {done} key(s) made before this one are stored; the same command "
                        "again creates only the missing ones"
                    )
                    exc.hint = f"{exc.hint}; {more}" if exc.hint else more
                raise
            made.append(Made(record, stored_in))
    if run.options.verify:
        for item in made:
            if item.created:
                item.verification = check_new_key(run.settings.api_url, item.record, run.reporter)
    return made


def _existing(plan: CountPlan, run: WebRun, count: int) -> list[Made]:
    return [Made(r, run.store.location, created=False) for r in plan.existing[:count]]


def _warn_unheld(plan: CountPlan, run: WebRun) -> None:
    if plan.unheld:
        names = ", ".join(short(k.access_key) for k in plan.unheld)
        run.reporter.info(
            f"warning: {len(plan.unheld)} key(s) with this note are on HTX but their secret is "
            f"not held here ({names}); `htx-keys keys reconcile` finds such orphans"
        )
