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

from automation.config import Settings
from automation.errors import ConfigError, HtxKeysError
from automation.redaction import REDACTOR
from automation.runner import Reporter
from automation.session import SessionStore, open_session_store
from htx_keys.app.checks import (
    DOCTOR_FAILED,
    Check,
    check_clock,
    check_mailbox,
    check_settings_rows,
    check_store_rows,
)
from htx_keys.app.doctor_site import check_site
from htx_keys.app.preflight import new_totp, use_site_file
from htx_keys.app.web_options import WebOptions
from htx_keys.app.web_run import SecretPrompt, run_secret_names


# --- all of it -------------------------------------------------------------------------------
def run_doctor(
    settings: Settings,
    *,
    headed: bool,
    timeout_s: float,
    reporter: Reporter,
    session: SessionStore | None = None,
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
    rows.append(check_site_file(settings))
    totp = None
    with contextlib.suppress(HtxKeysError):  # a bad seed has its own row
        if settings.totp_secret:
            totp = new_totp(
                settings.totp_secret, settings.state_dir, reporter, settings.totp_period
            )
    reporter.info("checking the site's pages (nothing is sent or created)")
    rows += check_site(settings, totp, saved, headed=headed, timeout_s=timeout_s, reporter=reporter)
    return rows


def check_site_file(settings: Settings) -> Check:
    """The texts and locators that replace the shipped ones, if a site file has any."""
    try:
        overrides = use_site_file(settings)
    except ConfigError as exc:
        return Check("site file", "FAIL", exc.message, "fix the line it names, or remove it")
    if not overrides:
        where = overrides.path
        return Check("site file", "skip", f"none at {where}: the shipped texts and locators")
    what = f"{len(overrides.texts)} text(s), {len(overrides.elements)} element(s)"
    return Check("site file", "pass", f"{what} from {overrides.path}")


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


def doctor_checks(web: WebOptions, *, quiet: bool, ask_secrets: SecretPrompt) -> list[Check]:
    """`doctor` as a command runs it: the settings from the options, then every check."""
    try:
        settings = web.settings()
        session = open_session_store(settings.session, settings.base_url, settings.email or "")
        settings = ask_secrets(settings, run_secret_names(session))
    except ConfigError as exc:  # a malformed value: nothing else can be checked
        return [Check("settings", "FAIL", exc.message, exc.hint or "see .env.example")]
    return run_doctor(
        settings,
        headed=web.headed,
        timeout_s=web.timeout,
        reporter=Reporter(quiet=quiet),
        session=session,
    )
