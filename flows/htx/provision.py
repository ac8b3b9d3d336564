"""The steps of creating an HTX API key in the website, written once.

Provisioning, CI runs and the documentation recorder run this same list. Each step has a title
and one sentence a person could follow, and a function that drives the page objects. The pair
is stored the moment it is read (step 9), before anything else can fail.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.errors import LoginError, RejectedError, SiteError
from automation.mail import Inbox
from automation.otp import Totp
from automation.redaction import REDACTOR
from automation.runner import Flow, Reporter, Step
from automation.store import KeyRecord, Store, save_or_rescue
from flows.htx.limits import NO_IP_EXPIRY_DAYS, KeyRequest
from flows.htx.pages import (
    ApiManagementPage,
    CreatedDialog,
    Header,
    LoginPage,
    SecurityDialog,
    first_of,
    read_value,
)

GA_REJECTED = "Incorrect Google Authenticator code"
# A code the site did not take: wrong (a late mail of an earlier run) or expired.
EMAIL_REJECTED = ("Incorrect email verification code", "email verification code has expired")


@dataclass
class ProvisionContext:
    page: Page
    base_url: str
    email: str
    password: str = field(repr=False)
    request: KeyRequest
    totp: Totp
    inbox: Inbox
    store: Store
    reporter: Reporter
    rescue_dir: Path
    mail_timeout: float = 120.0
    timeout_ms: float = 30_000
    record: KeyRecord | None = None
    stored_in: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the steps ------------------------------------------------------------------------------
def open_login(ctx: ProvisionContext) -> None:
    LoginPage(ctx.page).open(ctx.base_url, back_path="/en-us/")


def enter_password(ctx: ProvisionContext) -> None:
    login = LoginPage(ctx.page)
    login.submit_password(ctx.email, ctx.password)
    error = login.wait_for_ga_step_or_error(ctx.timeout_ms)
    if error:
        raise LoginError(f"The site refused the login: {error}")


def enter_login_ga(ctx: ProvisionContext) -> None:
    login = LoginPage(ctx.page)
    home = Header(ctx.page).account_button

    def attempt() -> str | None:
        login.submit_ga(ctx.totp.next_code())
        return first_of(home, login.alert, ctx.timeout_ms)

    error = with_fresh_ga_codes(ctx, attempt)
    if error:
        raise LoginError(f"The site refused the Google Authenticator code: {error}")


def with_fresh_ga_codes(ctx: ProvisionContext, attempt: Callable[[], str | None]) -> str | None:
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


def open_api_management(ctx: ProvisionContext) -> None:
    Header(ctx.page).open_api_management()
    ApiManagementPage(ctx.page).heading.wait_for(timeout=ctx.timeout_ms)


def fill_form(ctx: ProvisionContext) -> None:
    req = ctx.request
    ApiManagementPage(ctx.page).fill(req.note, req.permissions, req.ip_addresses)


def press_create(ctx: ProvisionContext) -> None:
    api = ApiManagementPage(ctx.page)
    dialog = SecurityDialog(ctx.page)
    api.create_button.click()
    dialog.root.or_(api.form_errors).first.wait_for(timeout=ctx.timeout_ms)
    if not dialog.root.is_visible():
        errors = "; ".join(t.strip() for t in api.form_errors.all_inner_texts())
        raise RejectedError(f"HTX refused the form: {errors}")


def send_email_code(ctx: ProvisionContext) -> None:
    dialog = SecurityDialog(ctx.page)
    dialog.send_button.wait_for(timeout=ctx.timeout_ms)
    wait = dialog.seconds_until_send()
    if wait:
        # A code was sent to this account less than a minute ago (an earlier run): HTX only
        # offers Resend when its countdown ends, so wait for it as a person would.
        ctx.reporter.waiting(wait, "HTX to allow a new email code (one was sent recently)")
        expect(dialog.send_button).to_be_enabled(timeout=(wait + 15) * 1000)
    ctx.inbox.mark()  # only mail that arrives after this moment can carry our code
    ctx.extra["sent_at"] = time.monotonic()
    dialog.send_button.click()
    error = first_of(dialog.countdown_button, dialog.alert, ctx.timeout_ms)
    if error:
        raise RejectedError(f"HTX did not send the code: {error}")
    ctx.reporter.info("code sent; waiting for the verification email")


def confirm_codes(ctx: ProvisionContext) -> None:
    dialog = SecurityDialog(ctx.page)
    created = CreatedDialog(ctx.page)
    fill_email_code(ctx, dialog)
    email_retried = False

    def attempt() -> str | None:
        dialog.ga_box.fill(ctx.totp.next_code())  # waits for a step the login did not use
        dialog.confirm_button.click()
        try:
            return first_of(created.root, dialog.alert, ctx.timeout_ms)
        except PlaywrightTimeout:
            raise SiteError(
                f"No answer within {ctx.timeout_ms / 1000:.0f} s after Confirm: a key may have "
                "been created; check API Management before trying again"
            ) from None

    while True:
        error = with_fresh_ga_codes(ctx, attempt)
        if error is None:
            return
        if any(text in error for text in EMAIL_REJECTED) and not email_retried:
            # A late mail from an earlier run can arrive after Send was pressed; the next
            # newer mail is ours.
            email_retried = True
            ctx.reporter.info("HTX refused the email code; waiting for a newer email")
            fill_email_code(ctx, dialog)
            continue
        raise RejectedError(f"HTX refused the verification: {error}")


def fill_email_code(ctx: ProvisionContext, dialog: SecurityDialog) -> None:
    email_code = ctx.inbox.wait_for_code(timeout=ctx.mail_timeout)
    REDACTOR.add(email_code, label="email code")
    sent_at = ctx.extra.get("sent_at")
    if isinstance(sent_at, float):
        ctx.reporter.info(f"verification email read {time.monotonic() - sent_at:.1f} s after Send")
    dialog.email_code_box.fill(email_code)


def capture_keys(ctx: ProvisionContext) -> None:
    created = CreatedDialog(ctx.page)
    access_key = read_value(created.access_key_box)
    secret_key = read_value(created.secret_key_box)
    REDACTOR.add(secret_key, label="secret key")
    if not access_key or not secret_key:
        raise SiteError("The Successfully Created dialog showed no key pair")
    now = utc_now()
    req = ctx.request
    expires = iso(now + dt.timedelta(days=NO_IP_EXPIRY_DAYS)) if req.expires else None
    ctx.record = KeyRecord(
        access_key=access_key,
        secret_key=secret_key,
        account=ctx.email,
        note=req.note,
        permissions=list(req.permissions),
        ip_addresses=list(req.ip_addresses),
        created_at=iso(now),
        expires_at=expires,
        site=ctx.base_url,
    )
    ctx.stored_in = save_or_rescue(ctx.store, ctx.record, ctx.rescue_dir)


def check_list(ctx: ProvisionContext) -> None:
    assert ctx.record is not None
    created = CreatedDialog(ctx.page)
    try:
        created.confirm_button.click()
        created.root.wait_for(state="hidden", timeout=ctx.timeout_ms)
        ApiManagementPage(ctx.page).row_for(ctx.record.access_key).wait_for(timeout=ctx.timeout_ms)
    except PlaywrightError as exc:
        # The key exists and is stored: a list that does not show it is worth a warning,
        # not a failure that would hide the key from the output.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ctx.reporter.info(f"warning: the key list did not show the new key ({first})")


PROVISION = Flow[ProvisionContext](
    name="provision",
    title="Create an HTX API key",
    steps=(
        Step(
            "Open the HTX login page",
            "Go to the HTX website and open the Log In page.",
            open_login,
            retries=1,
        ),
        Step(
            "Log in with email and password",
            "Enter the account's email or phone number and password, then press Log In.",
            enter_password,
        ),
        Step(
            "Enter the Google Authenticator code",
            "Type the current 6-digit code from Google Authenticator and press Confirm.",
            enter_login_ga,
        ),
        Step(
            "Open API Management",
            "Click the profile icon in the top bar and choose API Management.",
            open_api_management,
            retries=1,
        ),
        Step(
            "Fill in the note, permissions and IP whitelist",
            "Give the key a note, tick the permissions it needs and link the IP addresses "
            "allowed to use it.",
            fill_form,
        ),
        Step(
            "Press Create",
            "Press Create; HTX opens the Security Authentication dialog.",
            press_create,
        ),
        Step(
            "Send the email verification code",
            "Press Send; HTX emails a 6-digit verification code to the account's address.",
            send_email_code,
        ),
        Step(
            "Enter the codes and confirm",
            "Enter the code from the email and a fresh Google Authenticator code, then press "
            "Confirm.",
            confirm_codes,
        ),
        Step(
            "Copy the Access Key and Secret Key",
            "Copy both keys from the Successfully Created dialog and keep them safe: the "
            "Secret Key is shown only once.",
            capture_keys,
        ),
        Step(
            "Close the dialog and check the key list",
            "Press Confirm; the new key appears in the list of API keys.",
            check_list,
        ),
    ),
)
