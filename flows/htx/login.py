"""The login steps: the website, password, captcha hand-off, GA code, new-device check.

Used by `provision` (as its first steps), by `login` (which saves the session) and by
`doctor`. With a saved session the password and GA steps are skipped: no code is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Locator, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.code_command import CommandCodes
from automation.errors import CaptchaRequired, LoginError, RejectedError, SiteError
from automation.mail import Inbox
from automation.runner import Flow, Step
from flows.htx.context import SiteContext
from flows.htx.finding import clear_first_visit, first_of, press, seconds_until_enabled
from flows.htx.outcome import (
    answered,
    mark,
    rate_limited,
    retry_server_error,
    server_error,
    wait_outcome,
    watching_session,
)
from flows.htx.pages import (
    APIKEY_PATH,
    ApiManagementPage,
    Header,
    LoginPage,
    NewDeviceStep,
)

GA_REJECTED = "Incorrect Google Authenticator code"
# A code the site did not take: wrong (a late mail of an earlier run, or another account's
# mail that could not be told apart) or expired.
EMAIL_REJECTED = ("Incorrect email verification code", "email verification code has expired")
# Email codes tried per dialog: the newest, then a newer mail or an older unused one. HTX
# withdraws a code after a few wrong guesses (the sandbox: five), so never more than this.
EMAIL_CODE_ATTEMPTS = 3
EMAIL_RETRY = (
    "HTX refused the email code; trying the next one (a newer email or an older unused one)"
)
# How long to wait before each new Send after HTX's rate limit refused one (HTX does not say how
# long its limit lasts; a person would wait a little, then a little longer).
SEND_LIMIT_WAITS_S = (5.0, 10.0)
# Set by open_site: the page it opened (or the login's return) is API Management already.
ON_API_PAGE = "on_api_page"
# How long each look at the mailbox lasts while the page is also watched after Send: the
# mail is noticed the moment it lands while the tool listens, so most of the time goes to
# listening; the page's answer (an error, the countdown) is seen within this much.
CODE_POLL_S = 0.25


def open_site(ctx: SiteContext) -> None:
    login = LoginPage(ctx.page)
    # Both ways end on API Management (a login returns there): its step need not open it
    # again through the menu.
    ctx.extra[ON_API_PAGE] = True
    if ctx.saved_session:
        ctx.page.goto(f"{ctx.base_url}{APIKEY_PATH}")
        heading = ApiManagementPage(ctx.page).heading
        heading.or_(login.email_box).first.wait_for(timeout=ctx.timeout_ms)
        if heading.is_visible():
            ctx.logged_in = True
            ctx.reporter.info("signed in with the saved session")
            clear_first_visit(ctx.page)
            return
        ctx.session_renewed = True
        if not ctx.password:
            raise LoginError(
                "The saved session has expired and no password is set",
                hint="run `htx-keys login` again, or set HTX_PASSWORD",
            )
        ctx.reporter.info("the saved session has expired; logging in")
        login.email_box.wait_for(timeout=ctx.timeout_ms)
    else:
        login.open(ctx.base_url, back_path=APIKEY_PATH)
    closed = clear_first_visit(ctx.page)
    if closed:
        ctx.reporter.info(f"dismissed the {' and the '.join(closed)}")


def signed_in(ctx: SiteContext) -> str | None:
    return "signed in with the saved session" if ctx.logged_in else None


def enter_password(ctx: SiteContext) -> None:
    login = LoginPage(ctx.page)
    login.submit_password(ctx.email, ctx.password)
    outcome = login.wait_after_password(ctx.timeout_ms)
    if outcome == "captcha":
        hand_captcha_to_a_person(ctx)
    elif outcome != "ga":
        raise LoginError(f"The site refused the login: {outcome}")


def hand_captcha_to_a_person(ctx: SiteContext) -> None:
    """The tool never solves a captcha: a person at a visible browser does, or the run stops."""
    if not ctx.interactive:
        raise CaptchaRequired(
            "HTX shows a slider captcha, which this tool leaves to a person",
            hint="run `htx-keys login --headed` once and solve it there; later runs reuse "
            "the saved session",
        )
    limit = ctx.captcha_timeout_s
    ctx.reporter.info(
        f"HTX shows a slider captcha: solve it in the browser window (waiting up to {limit:.0f} s)"
    )
    try:
        # Failed drags show an alert and a fresh slider: only the GA step means it is solved.
        LoginPage(ctx.page).ga_box.wait_for(timeout=limit * 1000)
    except PlaywrightTimeout:
        raise CaptchaRequired(f"The captcha was not solved within {limit:.0f} s") from None
    ctx.reporter.info("captcha solved; carrying on")


def enter_login_ga(ctx: SiteContext) -> None:
    login = LoginPage(ctx.page)
    done = Header(ctx.page).account_button.or_(NewDeviceStep(ctx.page).heading)

    def attempt() -> str | None:
        login.submit_ga(ctx.totp.next_code())
        return first_of(done, login.alert, ctx.timeout_ms)

    error = with_fresh_ga_codes(ctx, attempt)
    if error:
        raise LoginError(f"The site refused the Google Authenticator code: {error}")
    ctx.new_device = NewDeviceStep(ctx.page).heading.is_visible()


def with_fresh_ga_codes(ctx: SiteContext, attempt: Callable[[], str | None]) -> str | None:
    """Run `attempt` (which submits a new GA code); once more if HTX refused the code.

    A refusal usually means the code was used elsewhere in its 30 s window (another run, a
    person): the next window's code is then taken. The page clears its alert on submit, so
    the outcome waited for is the new one.
    """
    error = attempt()
    if error and GA_REJECTED in error:
        ctx.totp.mark_rejected()
        ctx.reporter.info("the Google Authenticator code was refused; trying the next one")
        error = attempt()
    return error


def press_send(ctx: SiteContext, send: Locator, countdown: Locator, alert: Locator) -> None:
    """Press an email code's Send button once HTX allows it; only later mail counts.

    A Send refused by a server error is tried once more, one refused by HTX's rate limit after
    a pause, up to twice: a refused Send sent nothing, so trying again cannot send twice."""
    send.wait_for(timeout=ctx.timeout_ms)
    server_errors = rate_limits = 0
    while True:
        seconds = seconds_until_enabled(send)
        if seconds:
            # A code went out less than a minute ago (an earlier run): HTX offers Resend when
            # its countdown ends, so wait for it as a person would.
            ctx.reporter.waiting(seconds, "HTX to allow a new email code (one was sent recently)")
            expect(send).to_be_enabled(timeout=(seconds + 15) * 1000)
        ctx.inbox.mark()
        ctx.extra["sent_at"] = time.monotonic()
        since = mark(ctx)
        watch = watching_session(ctx)  # before Send: HTX may send the page to its login form
        press(send, "the Send button", ctx.timeout_ms)
        if code_landed(ctx, answered(ctx, countdown, alert, watch), since):
            return
        error = wait_outcome(ctx, countdown, alert, "Send", watch=watch)
        if error is None:
            return
        failed, limited = server_error(ctx, since), rate_limited(ctx, since)
        if failed is not None:
            if server_errors < 1:
                server_errors += 1
                retry_server_error(ctx, failed, error, "Send")
                continue
            raise SiteError(
                f"HTX could not send the code: {error} ({failed.describe()})",
                hint="HTX's servers had a problem; no code was sent: try again later",
            )
        if limited is not None and rate_limits < len(SEND_LIMIT_WAITS_S):
            ctx.reporter.info(f"HTX refused to send a code for now: {error}")
            ctx.reporter.waiting(SEND_LIMIT_WAITS_S[rate_limits], "HTX's limit on sending codes")
            ctx.page.wait_for_timeout(SEND_LIMIT_WAITS_S[rate_limits] * 1000)
            rate_limits += 1
            continue
        hint = "HTX limits how often codes are sent: wait a few minutes" if limited else None
        raise RejectedError(f"HTX did not send the code: {error}", hint=hint)


def code_landed(ctx: SiteContext, answer: Locator, since: float) -> bool:
    """Right after Send: listen to the mailbox (in IDLE since the mark) until the page shows
    HTX's answer. True when the code came first: the Send went through (no error answer
    meanwhile), and the flow goes on without waiting for the countdown to be drawn. False
    when the page answered first (the caller reads what it says) or the mailbox cannot tell
    (a code command, a server without IDLE)."""
    inbox = ctx.inbox
    if not isinstance(inbox, Inbox):
        return False
    deadline = time.monotonic() + ctx.timeout_ms / 1000
    while inbox.listening and time.monotonic() < deadline:
        if inbox.poll(CODE_POLL_S):
            return server_error(ctx, since) is None and rate_limited(ctx, since) is None
        if answer.first.is_visible():
            return False
    return False


def read_email_code(ctx: SiteContext) -> str:
    code = ctx.inbox.wait_for_code(timeout=ctx.mail_timeout)
    sent_at = ctx.extra.get("sent_at")
    if isinstance(sent_at, float):
        got = "email code from the code command" if from_command(ctx) else "verification email read"
        # When the code was in hand: the mailbox may have had it while the page was watched.
        at = getattr(ctx.inbox, "code_at", None) or time.monotonic()
        ctx.reporter.info(f"{got} {at - sent_at:.2f} s after Send")
    return code


def from_command(ctx: SiteContext) -> bool:
    """Whether email codes come from the code command rather than the mailbox."""
    return isinstance(ctx.inbox, CommandCodes)


def confirm_new_device(ctx: SiteContext) -> None:
    step = NewDeviceStep(ctx.page)
    press_send(ctx, step.send_button, step.countdown_button, step.alert)
    home = Header(ctx.page).account_button
    for attempt in range(1, EMAIL_CODE_ATTEMPTS + 1):
        step.email_code_box.fill(read_email_code(ctx))
        press(step.confirm_button, "the Confirm button", ctx.timeout_ms)
        error = first_of(home, step.alert, ctx.timeout_ms)
        if error is None:
            return
        if attempt < EMAIL_CODE_ATTEMPTS and any(text in error for text in EMAIL_REJECTED):
            ctx.reporter.info(EMAIL_RETRY)
            continue
        raise LoginError(f"HTX refused the new-device check: {error}")


def no_new_device_check(ctx: SiteContext) -> str | None:
    if ctx.logged_in and not ctx.new_device:
        return "signed in with the saved session"
    return None if ctx.new_device else "HTX did not ask"


# --- what each step acts on, for the recorder's pictures -----------------------------------
def opened_page(ctx: SiteContext) -> Locator:
    if ctx.logged_in:
        return ApiManagementPage(ctx.page).heading
    return LoginPage(ctx.page).email_box


LOGIN_STEPS: tuple[Step[SiteContext], ...] = (
    Step(
        "Open the HTX website",
        "Go to the HTX website and open the Log In page.",
        open_site,
        retries=1,
        target=opened_page,
        shot="after",  # before it, the browser shows an empty page
    ),
    Step(
        "Log in with email and password",
        "Enter the account's email or phone number and password, then press Log In; if a "
        "slider captcha appears, solve it.",
        enter_password,
        skip=signed_in,
        target=lambda ctx: LoginPage(ctx.page).password_form,
    ),
    Step(
        "Enter the Google Authenticator code",
        "Type the current 6-digit code from Google Authenticator and press Confirm.",
        enter_login_ga,
        skip=signed_in,
        target=lambda ctx: LoginPage(ctx.page).ga_form,
    ),
    Step(
        "Confirm the new device",
        "If HTX asks to verify a new device, press Send and enter the code it emails.",
        confirm_new_device,
        skip=no_new_device_check,
        target=lambda ctx: NewDeviceStep(ctx.page).send_button,
    ),
)

LOGIN = Flow[SiteContext](name="login", title="Sign in to HTX", steps=LOGIN_STEPS)
