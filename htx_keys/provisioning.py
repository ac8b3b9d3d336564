"""Provision one key: check everything that can be checked, then run the flow.

Order matters. Every check that needs no browser runs first (settings, the TOTP seed, the mail
settings, the store, which Chromium), then the mailbox is opened (a wrong IMAP password fails
here, not after a key exists), and only then does a browser start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.artifacts import ArtifactModes
from automation.browser import BrowserChoice, BrowserOptions, choose_browser, open_page
from automation.config import Settings
from automation.errors import ConfigError, HtxKeysError
from automation.mail import Inbox, MailSettings, check_settings, parse_senders
from automation.otp import Totp, validate_secret
from automation.recording import new_run_dir
from automation.runner import Flow, Reporter, RunResult, StepHook, run_flow
from automation.session import SessionStore
from automation.store import KeyRecord, Store, check_store
from flows.htx.context import ProvisionContext, SiteContext
from flows.htx.limits import KeyRequest
from flows.htx.login import LOGIN
from flows.htx.provision import PROVISION
from flows.htx.verify import Verification, verify_key
from htx_keys.run_recording import Recording, new_recording

NEEDED = ("email", "totp_secret", "imap_host", "imap_password")  # + password without a session


@dataclass
class RunOptions:
    headed: bool = False  # a person sees the browser: captchas and SMS codes go to them
    timeout_ms: float = 30_000
    # Artifacts go to <artifacts_root>/<run-id>/ (default root: the state dir's runs/), or
    # straight into artifacts_dir when given (`record --out DIR`).
    artifacts_root: Path | None = None
    artifacts_dir: Path | None = None
    artifacts: ArtifactModes = field(default_factory=ArtifactModes)
    chapter_ms: float = 1500.0  # how long each chapter card holds the video
    use_totp_state: bool = True  # remember used GA steps across runs (off for throwaway seeds)
    verify: bool = True  # check the new key with signed REST calls once it is stored
    hooks: Sequence[StepHook[Any]] = ()
    cdp_endpoint: str | None = None
    ws_endpoint: str | None = None
    session: SessionStore | None = None  # where a saved login is read (and renewed)
    ask: Callable[[str], str | None] | None = None  # a hidden prompt for the person
    captcha_timeout_s: float = 180.0
    on_key: Callable[[KeyRecord], None] | None = None  # sees each new pair before it is stored


@dataclass
class Prepared:
    settings: Settings
    request: KeyRequest | None  # None: sign in only
    store: Store | None
    browser: BrowserChoice
    mail: MailSettings
    totp_secret: str = field(repr=False)
    saved_state: dict[str, Any] | None = field(default=None, repr=False)


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


def new_totp(secret: str, state_dir: Path | None, reporter: Reporter) -> Totp:
    """GA codes for one run; `state_dir` shares the used time steps with every other run."""
    return Totp(
        secret,
        state_dir=state_dir,
        on_wait=lambda s: reporter.waiting(
            s, "a fresh Google Authenticator code (each code works once)"
        ),
    )


def mail_settings(settings: Settings) -> MailSettings:
    extra: dict[str, Any] = {}
    if settings.mail_from:
        extra["senders"] = parse_senders(settings.mail_from)
    if settings.mail_code_pattern:
        extra["code_pattern"] = settings.mail_code_pattern
    return MailSettings(
        host=settings.imap_host or "",
        port=settings.imap_port,
        user=settings.imap_user or settings.email or "",
        password=settings.imap_password or "",
        security=settings.imap_security,  # type: ignore[arg-type]
        ca_file=settings.imap_ca_file,
        **extra,
    )


def prepare(
    settings: Settings,
    request: KeyRequest | None,
    store: Store | None,
    options: RunOptions | None = None,
) -> Prepared:
    """Everything that can fail before a browser starts, in well under a second."""
    options = options or RunOptions()
    saved = options.session.load() if options.session else None
    settings.require(*NEEDED, *(() if saved else ("password",)))
    secret = validate_secret(settings.totp_secret or "")
    mail = mail_settings(settings)
    check_settings(mail)
    browser = choose_browser(
        settings.browser, cdp_endpoint=options.cdp_endpoint, ws_endpoint=options.ws_endpoint
    )
    if options.headed and not browser.remote and not has_display():
        raise ConfigError(
            "--headed needs a display for the browser window: run it on a desktop or under "
            "xvfb-run, or leave out --headed"
        )
    if store is not None:
        check_store(store)
    return Prepared(settings, request, store, browser, mail, secret, saved)


def has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@contextmanager
def site_context(
    prep: Prepared, options: RunOptions, reporter: Reporter, flow: Flow[Any]
) -> Iterator[tuple[SiteContext, Recording]]:
    """The mailbox (opened first: a wrong IMAP password fails before anything is made), the
    browser with the saved session if there is one, and a context for the flow; the run's
    pictures, trace and video, kept as the modes say and scrubbed."""
    settings = prep.settings
    state_dir = settings.state_dir
    totp = new_totp(prep.totp_secret, state_dir if options.use_totp_state else None, reporter)
    totp = totp.with_period(settings.totp_period)  # a test sandbox may step faster
    session = "; with the saved session" if prep.saved_state else ""
    reporter.info(
        f"mailbox of {prep.mail.user} on {prep.mail.host}:{prep.mail.effective_port}; "
        f"browser: {prep.browser.description}{session}"
    )
    with Inbox(prep.mail, on_progress=reporter.info) as inbox:
        if options.artifacts_dir is not None:
            directory, own = options.artifacts_dir, False
        else:
            directory, own = (
                new_run_dir(options.artifacts_root or state_dir / "runs", flow.name),
                True,
            )
        rec = new_recording(
            directory, options.artifacts, reporter, own_directory=own, chapter_ms=options.chapter_ms
        )
        browser = BrowserOptions(
            prep.browser,
            headed=options.headed,
            timeout_ms=options.timeout_ms,
            storage_state=prep.saved_state,
            record_video_dir=rec.artifacts.fallback_video_dir,
        )
        failed = True
        try:
            with open_page(browser) as page:
                rec.start(page, settings.email or "", flow.title)
                try:
                    yield _flow_context(prep, options, reporter, page, totp, inbox), rec
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
    inbox: Inbox,
) -> SiteContext:
    settings = prep.settings
    common = dict(
        page=page,
        base_url=settings.base_url,
        email=settings.email or "",
        password=settings.password or "",
        totp=totp,
        inbox=inbox,
        reporter=reporter,
        mail_timeout=settings.mail_timeout,
        timeout_ms=options.timeout_ms,
        interactive=options.headed,
        ask=options.ask,
        captcha_timeout_s=options.captcha_timeout_s,
        saved_session=prep.saved_state is not None,
    )
    if prep.request is not None and prep.store is not None:
        return ProvisionContext(
            **common,  # type: ignore[arg-type]
            request=prep.request,
            store=prep.store,
            rescue_dir=settings.state_dir / "rescue",
            on_key=options.on_key,
        )
    return SiteContext(**common)  # type: ignore[arg-type]


def provision(prep: Prepared, options: RunOptions, reporter: Reporter) -> ProvisionResult:
    with site_context(prep, options, reporter, PROVISION) as (ctx, rec):
        assert isinstance(ctx, ProvisionContext)
        hooks = [*options.hooks, *rec.hooks]
        run = run_flow(PROVISION, ctx, reporter=reporter, hooks=hooks, tracing=rec.tracing)
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
    verification = verify_key(api_url, record, reader)
    if verification.status == "skipped":
        reporter.info(f"not verified: {verification.reason}")
    return verification
