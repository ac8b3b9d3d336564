"""The Security Authentication dialog, which guards creating and deleting a key alike.

Send (the emailed code), the SMS code on older accounts, a fresh GA code, Confirm; then wait
for what success looks like for the caller (the created dialog, or the key gone from the list)
or for the dialog's error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.errors import HtxKeysError, HumanNeeded, RejectedError, SiteError
from automation.http_watch import Answer
from automation.redaction import REDACTOR
from automation.runner import Step
from flows.htx.context import SiteContext
from flows.htx.finding import counting_down, press
from flows.htx.login import (
    EMAIL_CODE_ATTEMPTS,
    EMAIL_REJECTED,
    EMAIL_RETRY,
    ON_API_PAGE,
    from_command,
    press_send,
    read_email_code,
    with_fresh_ga_codes,
)
from flows.htx.outcome import mark, server_error
from flows.htx.pages import APIKEY_PATH, ApiManagementPage, Header, SecurityDialog

# An SMS code the site did not take; with the code command, the next one is asked for.
SMS_REJECTED = ("Incorrect SMS verification code", "SMS verification code has expired")
# ctx.extra: the access keys the table listed when API Management was opened.
LISTED_KEYS = "listed_keys"


def open_api_management(ctx: SiteContext) -> None:
    # Right after open_site the page is API Management already (a saved session opened it,
    # a login returned to it): loading it again through the menu would only cost time.
    fresh = ctx.extra.pop(ON_API_PAGE, False)
    if not (fresh and urlsplit(ctx.page.url).path == APIKEY_PATH):
        Header(ctx.page).open_api_management()
    api = ApiManagementPage(ctx.page)
    api.heading.wait_for(timeout=ctx.timeout_ms)
    # The table arrives after the page: nothing is read from it, nor pictured, before. What it
    # lists is kept for the next steps (the page stays as it is until Create).
    ctx.extra[LISTED_KEYS] = {row.access_key for row in api.wait_settled(ctx.timeout_ms)}


def send_codes(ctx: SiteContext) -> None:
    dialog = SecurityDialog(ctx.page)
    press_send(ctx, dialog.send_button, dialog.countdown_button, dialog.alert)
    source = "the code command" if from_command(ctx) else "the verification email"
    ctx.reporter.info(f"code sent; waiting for {source}")
    ctx.extra["sms"] = False
    if dialog.asks_sms():
        # Older accounts also confirm by SMS: a phone a person holds, or a gateway the code
        # command reads.
        if ctx.sms is None and not (ctx.interactive and ctx.ask):
            raise HumanNeeded(
                "HTX asks for an SMS code as well, which only a person can read",
                hint="run again with --headed at a terminal to type the code, or set "
                "HTX_KEYS_CODE_COMMAND to a command that prints it",
            )
        if ctx.sms is not None:
            ctx.sms.mark()
            ctx.extra["sms_sent_at"] = time.monotonic()
        press(dialog.send_sms_button, "the Send SMS code button", ctx.timeout_ms)
        wait_sms_sent(ctx, dialog)
        ctx.extra["sms"] = True


def wait_sms_sent(ctx: SiteContext, dialog: SecurityDialog) -> None:
    """Wait for HTX's answer to Send SMS code: a countdown ("Resend (59s)") on the button, or
    the button gone under a new name, or the dialog's error. Nothing is typed before: a page
    that moves the focus to the SMS box when the answer lands would take the keys of a code
    being typed elsewhere."""
    button, alert = dialog.send_sms_button, dialog.alert
    deadline = time.monotonic() + ctx.timeout_ms / 1000
    while True:
        if counting_down(button).first.is_visible() or not button.first.is_visible():
            return
        if alert.first.is_visible():
            said = alert.first.inner_text().strip()
            raise RejectedError(f"HTX did not send the SMS code: {said}")
        if time.monotonic() >= deadline:
            raise SiteError(f"No answer within {ctx.timeout_ms / 1000:g} s after Send SMS code")
        ctx.page.wait_for_timeout(100)


def confirm_codes(
    ctx: SiteContext,
    outcome: Callable[[], str | None],
    unsure: str,
    on_server_error: Callable[[Answer, str], HtxKeysError] | None = None,
) -> None:
    """Enter the email code (and SMS code) and a fresh GA code, press Confirm.

    `outcome` waits for success (None) or returns the dialog's error; `unsure` says what may
    have happened when neither shows in time. An error behind which HTX answered a server error
    is never tried again (the action may have been done): `on_server_error` makes the error
    to raise, by default one that says `unsure`.
    """
    dialog = SecurityDialog(ctx.page)
    dialog.email_code_box.fill(read_email_code(ctx))
    if ctx.extra.get("sms"):
        fill_sms_code(ctx, dialog)
    email_codes = sms_codes = 1

    def attempt() -> str | None:
        dialog.ga_box.fill(ctx.totp.next_code())  # waits for a step not used before
        since = mark(ctx)
        press(dialog.confirm_button, "the Confirm button", ctx.timeout_ms)
        try:
            error = outcome()
        except PlaywrightTimeout:
            raise SiteError(
                f"No answer within {ctx.timeout_ms / 1000:g} s after Confirm: {unsure}"
            ) from None
        failed = server_error(ctx, since)
        if error is not None and failed is not None:
            if on_server_error is not None:
                raise on_server_error(failed, error)
            raise SiteError(f"HTX answered {failed.describe()} to Confirm ({error}): {unsure}")
        return error

    while True:
        error = with_fresh_ga_codes(ctx, attempt)
        if error is None:
            return
        if any(text in error for text in EMAIL_REJECTED) and email_codes < EMAIL_CODE_ATTEMPTS:
            # A late mail from an earlier run can arrive after Send was pressed, or another
            # account's mail in a shared mailbox could not be told apart: the inbox hands out
            # a newer mail's code, or an older one not tried yet.
            email_codes += 1
            ctx.reporter.info(EMAIL_RETRY)
            dialog.email_code_box.fill(read_email_code(ctx))
            continue
        refused_sms = any(text in error for text in SMS_REJECTED)
        if ctx.sms is not None and refused_sms and sms_codes < EMAIL_CODE_ATTEMPTS:
            sms_codes += 1
            ctx.reporter.info("HTX refused the SMS code; asking the code command for another")
            fill_sms_code(ctx, dialog)
            continue
        raise RejectedError(f"HTX refused the verification: {error}")


def fill_sms_code(ctx: SiteContext, dialog: SecurityDialog) -> None:
    if ctx.sms is not None:
        dialog.sms_code_box.fill(ctx.sms.wait_for_code(timeout=ctx.mail_timeout))
        sent_at = ctx.extra.get("sms_sent_at")
        after = (
            f" {time.monotonic() - sent_at:.1f} s after Send" if isinstance(sent_at, float) else ""
        )
        ctx.reporter.info(f"SMS code from the code command{after}")
        return
    assert ctx.ask is not None
    code = ctx.ask("SMS verification code HTX sent to your phone")
    if not code or not code.strip():
        raise HumanNeeded("No SMS code was entered")
    REDACTOR.add(code.strip(), label="SMS code")
    dialog.sms_code_box.fill(code.strip())


# The steps creating and deleting a key share, word for word.
OPEN_API_MANAGEMENT: Step[Any] = Step(
    "Open API Management",
    "Click the profile icon in the top bar and choose API Management.",
    open_api_management,
    retries=1,
    target=lambda ctx: Header(ctx.page).account_button,
)
SEND_EMAIL_CODE: Step[Any] = Step(
    "Send the email verification code",
    "Press Send; HTX emails a 6-digit verification code to the account's address.",
    send_codes,
    target=lambda ctx: SecurityDialog(ctx.page).send_button,
)
