"""Provision one key: check everything that can be checked, then run the flow.

Order matters. Every check that needs no browser runs first (settings, the TOTP seed, the mail
settings, the store, which Chromium), then the mailbox is opened (a wrong IMAP password fails
here, not after a key exists), and only then does a browser start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.browser import BrowserChoice, BrowserOptions, choose_browser, open_page
from automation.config import Settings
from automation.errors import HtxKeysError
from automation.mail import Inbox, MailSettings, check_settings, parse_senders
from automation.otp import Totp, validate_secret
from automation.recording import FailureScreenshot, new_run_dir
from automation.runner import Reporter, RunResult, StepHook, run_flow
from automation.store import KeyRecord, Store, check_store
from flows.htx.limits import KeyRequest
from flows.htx.pages import failure_mask
from flows.htx.provision import PROVISION, ProvisionContext
from flows.htx.verify import Verification, verify_key

NEEDED = ("email", "password", "totp_secret", "imap_host", "imap_password")


@dataclass
class RunOptions:
    headed: bool = False
    timeout_ms: float = 30_000
    artifacts_root: Path | None = None  # where failure screenshots go; default: state dir
    use_totp_state: bool = True  # remember used GA steps across runs (off for throwaway seeds)
    verify: bool = True  # check the new key with signed REST calls once it is stored
    hooks: Sequence[StepHook[Any]] = ()


@dataclass
class Prepared:
    settings: Settings
    request: KeyRequest
    store: Store
    browser: BrowserChoice
    mail: MailSettings
    totp_secret: str = field(repr=False)


@dataclass
class ProvisionResult:
    record: KeyRecord
    stored_in: str
    run: RunResult
    artifacts: list[Path] = field(default_factory=list)
    verification: Verification | None = None


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


def prepare(settings: Settings, request: KeyRequest, store: Store) -> Prepared:
    """Everything that can fail before a browser starts, in well under a second."""
    settings.require(*NEEDED)
    secret = validate_secret(settings.totp_secret or "")
    mail = mail_settings(settings)
    check_settings(mail)
    browser = choose_browser(settings.browser)
    check_store(store)
    return Prepared(settings, request, store, browser, mail, secret)


def provision(prep: Prepared, options: RunOptions, reporter: Reporter) -> ProvisionResult:
    settings = prep.settings
    state_dir = settings.state_dir
    totp = new_totp(prep.totp_secret, state_dir if options.use_totp_state else None, reporter)
    artifacts_root = options.artifacts_root or state_dir / "runs"
    failure = FailureScreenshot(
        directory=artifacts_root,
        page=lambda ctx: ctx.page,
        mask=failure_mask,
    )
    reporter.info(
        f"mailbox of {prep.mail.user} on {prep.mail.host}:{prep.mail.effective_port}; "
        f"browser: {prep.browser.description}"
    )
    with Inbox(prep.mail, on_progress=reporter.info) as inbox:
        browser = BrowserOptions(prep.browser, headed=options.headed, timeout_ms=options.timeout_ms)
        with open_page(browser) as page:
            ctx = ProvisionContext(
                page=page,  # type: ignore[arg-type]
                base_url=settings.base_url,
                email=settings.email or "",
                password=settings.password or "",
                request=prep.request,
                totp=totp,
                inbox=inbox,
                store=prep.store,
                reporter=reporter,
                rescue_dir=state_dir / "rescue",
                mail_timeout=settings.mail_timeout,
                timeout_ms=options.timeout_ms,
            )
            failure.directory = new_run_dir(artifacts_root, "provision")
            try:
                run = run_flow(PROVISION, ctx, reporter=reporter, hooks=[*options.hooks, failure])
            except HtxKeysError as exc:
                if failure.saved:
                    exc.hint = f"screenshot of the failed step: {failure.saved[-1]}" + (
                        f"; {exc.hint}" if exc.hint else ""
                    )
                raise
            finally:
                _remove_if_empty(failure.directory)
    assert ctx.record is not None and ctx.stored_in is not None
    result = ProvisionResult(ctx.record, ctx.stored_in, run, failure.saved)
    if options.verify:
        result.verification = check_new_key(settings.api_url, ctx.record, reporter)
    return result


def check_new_key(
    api_url: str, record: KeyRecord, reporter: Reporter, reader: KeyRecord | None = None
) -> Verification:
    reporter.info(f"verifying the new key with signed calls to {api_url}")
    verification = verify_key(api_url, record, reader)
    if verification.status == "skipped":
        reporter.info(f"not verified: {verification.reason}")
    return verification


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()
