"""Provision one key, or sign in: the mailbox, the browser, the flow, the run's recording.

The checks that need no browser are in app/preflight.py and have run by the time anything
here starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.browser import BrowserOptions, open_page
from automation.code_command import CodeSource
from automation.errors import HtxKeysError
from automation.http_watch import HttpWatch
from automation.otp import Totp
from automation.recording import new_run_dir
from automation.runner import Flow, Reporter, RunResult, run_flow
from automation.session import SessionStore
from automation.store import KeyRecord
from flows.htx.context import ProvisionContext, SiteContext
from flows.htx.limits import KeyRequest
from flows.htx.login import LOGIN
from flows.htx.provision import PROVISION
from flows.htx.verify import Verification, verify_key
from htx_keys.app.code_sources import code_sources, describe, ready
from htx_keys.app.output import Made
from htx_keys.app.preflight import Prepared, RunOptions, new_totp, prepare
from htx_keys.app.recording import Recording, new_recording
from htx_keys.app.relogin import run_signed_in
from htx_keys.app.web_run import WebRun, run_secret_names


@dataclass
class ProvisionResult:
    record: KeyRecord
    stored_in: str
    run: RunResult
    recording: Recording
    verification: Verification | None = None

    @property
    def artifacts(self) -> list[Path]:
        return self.recording.files()


@contextmanager
def site_context(
    prep: Prepared, options: RunOptions, reporter: Reporter, flow: Flow[Any]
) -> Iterator[tuple[SiteContext, Recording]]:
    """The mailbox (connecting while the browser starts; a wrong IMAP password fails before
    the site is touched) or the code command, the browser with the saved session if there
    is one, and a context for the flow; the run's pictures, trace and video, kept as the
    modes say and scrubbed."""
    settings = prep.settings
    state_dir = settings.state_dir
    ledger = state_dir if options.use_totp_state else None
    totp = new_totp(prep.totp_secret, ledger, reporter, settings.totp_period)
    session = "; with the saved session" if prep.saved_state else ""
    reporter.info(
        f"{describe(prep.mail, prep.code_command)}; browser: {prep.browser.description}{session}"
    )
    with code_sources(settings, prep.mail, prep.code_command, reporter) as (inbox, sms):
        if options.artifacts_dir is not None:
            directory, own = options.artifacts_dir, False
        else:
            directory, own = (
                new_run_dir(options.artifacts_root or state_dir / "runs", flow.name),
                True,
            )
        rec = new_recording(
            directory,
            options.artifacts,
            reporter,
            own_directory=own,
            chapter_ms=options.chapter_ms,
            private=options.private_artifacts,
        )
        browser = BrowserOptions(
            prep.browser,
            headed=options.headed,
            timeout_ms=options.timeout_ms,
            storage_state=prep.saved_state,
            record_video_dir=rec.artifacts.fallback_video_dir,
            scale=options.scale,
            color_scheme=options.color_scheme,
        )
        failed = True
        try:
            with open_page(browser) as page:
                ready(inbox)  # a wrong IMAP password stops the run before the site is touched
                rec.start(page, settings.email or "", flow.title)
                try:
                    yield _flow_context(prep, options, reporter, page, totp, inbox, sms), rec
                    failed = False
                finally:
                    rec.artifacts.stop(failed, page.context)
            rec.artifacts.finish(failed)
        except HtxKeysError as exc:
            rec.artifacts.finish(failed=True)  # the video is complete once the context closed
            hint = rec.failure_hint()
            if hint:
                exc.hint = hint + (f"; {exc.hint}" if exc.hint else "")
            raise
        finally:
            rec.artifacts.finish(failed)  # interrupted: what was recorded is kept, scrubbed
            for note in rec.artifacts.notes:
                reporter.info(note)
            rec.tidy()
        if rec.files() and own:
            reporter.info(f"artifacts of this run: {rec.describe()}")


def _flow_context(
    prep: Prepared,
    options: RunOptions,
    reporter: Reporter,
    page: Any,
    totp: Totp,
    inbox: CodeSource,
    sms: CodeSource | None,
) -> SiteContext:
    settings = prep.settings
    common = dict(
        page=page,
        base_url=settings.base_url,
        email=settings.email or "",
        password=settings.password or "",
        totp=totp,
        inbox=inbox,
        sms=sms,
        reporter=reporter,
        mail_timeout=settings.mail_timeout,
        timeout_ms=options.timeout_ms,
        interactive=options.headed,
        ask=options.ask,
        captcha_timeout_s=options.captcha_timeout_s,
        saved_session=prep.saved_state is not None,
        http=HttpWatch(page, settings.base_url),
    )
    if prep.request is not None and prep.store is not None:
        return ProvisionContext(
            **common,
            request=prep.request,
            store=prep.store,
            rescue_dir=settings.state_dir / "rescue",
            on_key=options.on_key,
        )
    return SiteContext(**common)


def provision(prep: Prepared, options: RunOptions, reporter: Reporter) -> ProvisionResult:
    with site_context(prep, options, reporter, PROVISION) as (ctx, rec):
        assert isinstance(ctx, ProvisionContext)
        hooks = [*options.hooks, *rec.hooks]
        run = run_signed_in(PROVISION, ctx, reporter=reporter, hooks=hooks, tracing=rec.tracing)
        if ctx.session_renewed and options.session is not None:
            options.session.save(dict(ctx.page.context.storage_state()))
            reporter.info(f"the saved session was renewed ({options.session.description})")
    assert ctx.record is not None and ctx.stored_in is not None
    result = ProvisionResult(ctx.record, ctx.stored_in, run, rec)
    if options.verify:
        result.verification = check_new_key(prep.settings.api_url, ctx.record, reporter)
    return result


def sign_in(prep: Prepared, session: SessionStore, options: RunOptions, reporter: Reporter) -> str:
    """Log in (a person may solve a captcha) and save the browser's session."""
    with site_context(prep, options, reporter, LOGIN) as (ctx, rec):
        run_flow(LOGIN, ctx, reporter=reporter, hooks=[*options.hooks, *rec.hooks])
        session.save(dict(ctx.page.context.storage_state()))
    return session.description


def check_new_key(
    api_url: str, record: KeyRecord, reporter: Reporter, reader: KeyRecord | None = None
) -> Verification:
    reporter.info(f"verifying the new key with signed calls to {api_url}")
    verification = verify_key(api_url, record, reader, reporter)
    if verification.status == "skipped":
        reporter.info(f"not verified: {verification.reason}")
    return verification


def provision_one(run: WebRun, request: KeyRequest) -> Made:
    """`provision`: ask for what is missing, check everything, then make one key."""
    run.ask_for(*run_secret_names(run.session, run.settings))
    prep = prepare(run.settings, request, run.store, run.options)
    result = provision(prep, run.options, run.reporter)
    reporter = run.reporter
    waited = f" ({reporter.waited:.1f} s of it waiting on HTX's timers)" if reporter.waited else ""
    reporter.info(f"done in {result.run.seconds:.1f} s{waited}")
    return Made(result.record, result.stored_in, result.verification)
