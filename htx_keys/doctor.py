"""`htx-keys doctor`: check what a provisioning run needs, creating and changing nothing.

Each check is independent and ends as rows (pass, FAIL or skip) saying what was found and,
for a failure, what to do. The site's rows come from the page objects themselves: each locator
`flows/htx/pages.py` gives the flow is resolved on the real page, so when HTX renames a label
the row names the text and the constant to update. The doctor logs in (one GA code, recorded
like any run's; none with a saved session), fills in a note, presses Create to open the
Security Authentication dialog and cancels it. It never presses Send or Confirm: no mail goes
out, no key is made, and no saved session is written.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import click

from automation.config import Settings
from automation.errors import ConfigError, HtxKeysError
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.session import SessionStore, open_session_store
from htx_keys.account_cli import account_options
from htx_keys.checks import (
    DOCTOR_FAILED,
    Check,
    check_clock,
    check_mailbox,
    check_settings_rows,
    check_store_rows,
)
from htx_keys.doctor_site import TARGETS, check_site
from htx_keys.options import (
    browser_options,
    command_settings,
    output_options,
    prompt_run_secrets,
    session_option,
    site_options,
    store_option,
)
from htx_keys.provisioning import new_totp

__all__ = ["DOCTOR_FAILED", "TARGETS", "Check", "doctor", "run_doctor"]


# --- all of it -------------------------------------------------------------------------------
def run_doctor(
    settings: Settings,
    *,
    headed: bool,
    timeout_s: float,
    reporter: Reporter,
    session: SessionStore | None = None,
    cdp_endpoint: str | None = None,
    ws_endpoint: str | None = None,
) -> list[Check]:
    """Every check, in order; `session` is where a saved login is read (never written)."""
    saved = session.load() if session is not None else None
    reporter.info("checking the settings" + (" (a saved session is there)" if saved else ""))
    rows, mail = check_settings_rows(settings, saved_session=saved is not None)
    reporter.info(f"checking the clock against {settings.base_url}")
    rows.append(check_clock(settings.base_url))
    reporter.info("opening the mailbox")
    rows.append(check_mailbox(mail))
    reporter.info(f"checking the store ({settings.store})")
    rows.extend(check_store_rows(settings.store))
    totp = None
    with contextlib.suppress(HtxKeysError):  # a bad seed has its own row
        if settings.totp_secret:
            totp = new_totp(settings.totp_secret, settings.state_dir, reporter)
            totp = totp.with_period(settings.totp_period)  # a test sandbox may step faster
    reporter.info("checking the site's pages (nothing is sent or created)")
    rows += check_site(
        settings, totp, saved, headed=headed, timeout_s=timeout_s, reporter=reporter,
        cdp_endpoint=cdp_endpoint, ws_endpoint=ws_endpoint,
    )  # fmt: skip
    return rows


def exit_status(checks: Sequence[Check]) -> int:
    return DOCTOR_FAILED if any(c.result == "FAIL" for c in checks) else 0


def render_json(checks: Sequence[Check]) -> str:
    return REDACTOR.scrub(json.dumps([asdict(c) for c in checks], indent=2, ensure_ascii=False))


def render_text(checks: Sequence[Check]) -> str:
    width = max([len("CHECK"), *(len(c.check) for c in checks)])
    lines = [f"{'CHECK':<{width}}  RESULT  DETAIL / FIX"]
    for c in checks:
        lines.append(f"{c.check:<{width}}  {c.result:<6}  {c.detail}".rstrip())
        if c.fix:
            lines.append(f"{'':<{width}}  {'':<6}  fix: {c.fix}")
    n = {r: sum(c.result == r for c in checks) for r in ("pass", "FAIL", "skip")}
    lines.append(f"{n['pass']} passed, {n['FAIL']} failed, {n['skip']} skipped")
    return REDACTOR.scrub("\n".join(lines))


@click.command()
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds to wait for each element of the site.",
)
@output_options
@session_option
@store_option
@browser_options
@site_options
@account_options
def doctor(
    timeout_s: float,
    fmt: str,
    quiet: bool,
    session_spec: str,
    store_spec: str | None,
    headed: bool,
    browser_path: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Check settings, clock, mailbox, store and the site's pages; create nothing.

    Logs in (one Google Authenticator code; none with a saved session), checks each element
    the flow uses, opens the Security Authentication dialog and cancels it: no mail is sent,
    no key is made. Exits 0 when every check passes or is skipped, 13 when one fails.
    """
    try:
        settings = command_settings(
            base_url,
            api_url,
            env_file,
            account,
            config_file,
            store=store_spec,
            browser=browser_path,
        )
        session = open_session_store(session_spec, settings.base_url, settings.email or "")
        settings = prompt_run_secrets(settings, session)
    except ConfigError as exc:  # a malformed value: nothing else can be checked
        checks = [Check("settings", "FAIL", exc.message, exc.hint or "see .env.example")]
    else:
        checks = run_doctor(
            settings,
            headed=headed,
            timeout_s=timeout_s,
            reporter=Reporter(quiet=quiet),
            session=session,
            cdp_endpoint=cdp_endpoint,
            ws_endpoint=ws_endpoint,
        )
    click.echo(render_json(checks) if fmt == "json" else render_text(checks))
    if exit_status(checks):
        click.get_current_context().exit(DOCTOR_FAILED)
