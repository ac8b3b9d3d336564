"""What came of pressing a button: what the step wanted, an error the page showed (and which
kind, by the HTTP status behind it: automation/http_watch.py), or the login form because HTX
ended the session. Shared by the steps that call the site (Create, Send, Confirm, Delete).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Locator

from automation.errors import SessionEnded
from automation.http_watch import RATE_LIMITED, Answer
from flows.htx.context import SiteContext
from flows.htx.pages import LOGIN_PATH, LoginPage

# A server error on a call that makes nothing is tried once more, this long after.
RETRY_AFTER_S = 2.0


def mark(ctx: SiteContext) -> float:
    """The moment before an action, to ask afterwards what the site answered since."""
    return ctx.http.mark() if ctx.http is not None else 0.0


def wait_outcome(
    ctx: SiteContext,
    wanted: Locator,
    error: Locator,
    what: str,
    timeout_ms: float | None = None,
    *,
    watch: bool | None = None,
) -> str | None:
    """None once `wanted` shows, else the error's text. The login form instead means HTX ended
    the session: SessionEnded, since a call refused that way did nothing. `watch`: whether to
    look for the login form, as watching_session() said before the action (the page may
    be on the login form by now)."""
    timeout = ctx.timeout_ms if timeout_ms is None else timeout_ms
    watch = watching_session(ctx) if watch is None else watch
    answered(ctx, wanted, error, watch).first.wait_for(timeout=timeout)
    if wanted.first.is_visible():
        return None
    if watch:
        check_session(ctx, what)
    return error.first.inner_text().strip()


def answered(ctx: SiteContext, wanted: Locator, error: Locator, watch: bool) -> Locator:
    """What the page shows once the site has answered: `wanted`, the error, or (`watch`) the
    login form (HTX ended the session)."""
    either = wanted.or_(error)
    return either.or_(login_form(ctx)) if watch else either


def watching_session(ctx: SiteContext) -> bool:
    """On the login page itself (its new-device step) the login form says nothing."""
    return LOGIN_PATH not in urlsplit(ctx.page.url).path


def login_form(ctx: SiteContext) -> Locator:
    """The login form's email box, when it shows (the new-device step hides it)."""
    return LoginPage(ctx.page).email_box.filter(visible=True)


def check_session(ctx: SiteContext, what: str) -> None:
    """SessionEnded when the page now shows the login form (HTX ended the session)."""
    if login_form(ctx).count():
        raise SessionEnded(
            f"HTX ended the session at {what}: it asked to log in again, and did nothing",
            hint="log in again (`htx-keys login`), or set HTX_PASSWORD so the tool can",
        )


def server_error(ctx: SiteContext, since: float) -> Answer | None:
    """The server error (5xx) the site answered since `since`, if it did."""
    return ctx.http.server_error(since) if ctx.http is not None else None


def rate_limited(ctx: SiteContext, since: float) -> Answer | None:
    return ctx.http.status_since(since, RATE_LIMITED) if ctx.http is not None else None


def retry_server_error(ctx: SiteContext, answer: Answer, error: str, what: str) -> None:
    """Say so, and wait a moment, before trying a call that made nothing once more."""
    ctx.reporter.info(
        f"HTX answered {answer.describe()} to {what} ({error}); trying again in "
        f"{RETRY_AFTER_S:.0f} s"
    )
    ctx.page.wait_for_timeout(RETRY_AFTER_S * 1000)
