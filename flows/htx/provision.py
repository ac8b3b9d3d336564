"""The steps of creating an HTX API key in the website, written once.

Provisioning, CI runs and the documentation recorder run this same list. Each step has a title
and one sentence a person could follow, and a function that drives the page objects. The pair
is stored the moment it is read, before anything else can fail. The login steps come from
login.py; a saved session skips them.
"""

from __future__ import annotations

import datetime as dt

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator

from automation.errors import HtxKeysError, RejectedError, SiteError
from automation.http_watch import Answer
from automation.redaction import REDACTOR
from automation.runner import Flow, Step
from automation.store import KeyRecord, announce_and_store
from flows.htx.context import ProvisionContext
from flows.htx.finding import press, read_value
from flows.htx.lease import iso as lease_iso
from flows.htx.lease import lease_of
from flows.htx.limits import NO_IP_EXPIRY_DAYS, KeyRequest
from flows.htx.login import LOGIN_STEPS
from flows.htx.outcome import mark, retry_server_error, server_error, wait_outcome
from flows.htx.pages import (
    APIKEY_PATH,
    ApiManagementPage,
    CreatedDialog,
    SecurityDialog,
)
from flows.htx.security import LISTED_KEYS, OPEN_API_MANAGEMENT, SEND_EMAIL_CODE, confirm_codes

RECONCILE_HINT = "`htx-keys keys reconcile` lists it if so (its note carries the tool's tag)"

__all__ = ["KEY_STEPS", "PROVISION", "ProvisionContext", "iso", "new_record", "utc_now"]


def new_record(
    request: KeyRequest,
    access_key: str,
    secret_key: str,
    *,
    account: str,
    site: str,
    sub_uid: int | None = None,
) -> KeyRecord:
    """The record of a pair HTX has just shown: the request's facts, made now, with the expiry
    HTX would give it if it is never used, and the end of its lease (from its note's tag)."""
    now = utc_now()
    expires = request.expiry_if_unused(now)
    return KeyRecord(
        access_key=access_key,
        secret_key=secret_key,
        account=account,
        note=request.note,
        permissions=list(request.permissions),
        ip_addresses=list(request.ip_addresses),
        created_at=iso(now),
        expires_at=iso(expires) if expires else None,
        site=site,
        sub_uid=sub_uid,
        lease_until=lease_iso(lease_of(request.note)),
    )


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the steps after login ----------------------------------------------------------------
def fill_form(ctx: ProvisionContext) -> None:
    req = ctx.request
    ApiManagementPage(ctx.page).fill(req.note, req.permissions, req.ip_addresses)


def press_create(ctx: ProvisionContext) -> None:
    api = ApiManagementPage(ctx.page)
    dialog = SecurityDialog(ctx.page)
    # What the list holds before: a Confirm that fails may still have made a key (made_anyway).
    # Read when API Management was opened, unless a step since went elsewhere.
    listed = ctx.extra.pop(LISTED_KEYS, None)
    if not isinstance(listed, set):
        listed = {row.access_key for row in api.rows(ctx.timeout_ms)}
    ctx.extra["keys_before"] = listed
    for attempt in (1, 2):
        since = mark(ctx)
        press(api.create_button, "the Create button", ctx.timeout_ms)
        error = wait_outcome(ctx, dialog.root, api.form_errors, "Create")
        if error is None:
            return
        failed = server_error(ctx, since)
        if failed is None:
            errors = "; ".join(t.strip() for t in api.form_errors.all_inner_texts())
            raise RejectedError(f"HTX refused the form: {errors}")
        if attempt == 1:  # the form check makes nothing: safe to try again
            retry_server_error(ctx, failed, error, "Create")
            continue
        raise SiteError(
            f"HTX could not check the form: {error} ({failed.describe()})",
            hint="HTX's servers had a problem; nothing was created: try again later",
        )


def confirm_create(ctx: ProvisionContext) -> None:
    created = CreatedDialog(ctx.page)
    alert = SecurityDialog(ctx.page).alert
    confirm_codes(
        ctx,
        lambda: wait_outcome(ctx, created.root, alert, "Confirm"),
        "a key may have been created: `htx-keys keys reconcile` lists it if so",
        on_server_error=lambda answer, error: made_anyway(ctx, answer, error),
    )


def made_anyway(ctx: ProvisionContext, answer: Answer, error: str) -> HtxKeysError:
    """The error for a Confirm that HTX answered with a server error: whether it made the key
    anyway (without showing its secret) is read from the key list, and said."""
    said = f"HTX answered {answer.describe()} to Confirm ({error})"
    before = ctx.extra.get("keys_before")
    try:
        if not isinstance(before, set):
            raise SiteError("the key list before Create was not read")
        # In a tab of its own: the dialog with HTX's error stays as it is, for the picture of
        # the failed step.
        tab = ctx.page.context.new_page()
        try:
            tab.goto(f"{ctx.base_url}{APIKEY_PATH}")
            rows = ApiManagementPage(tab).rows(ctx.timeout_ms)
        finally:
            tab.close()
    except (PlaywrightError, HtxKeysError):
        return SiteError(f"{said}; a key may have been made", hint=RECONCILE_HINT)
    new = [r.access_key for r in rows if r.access_key not in before and r.note == ctx.request.note]
    if new:
        return SiteError(
            f"{said} but made key {', '.join(new)} anyway, without showing its secret",
            hint="HTX shows a secret only once: `htx-keys keys reconcile --revoke` deletes the key",
        )
    return SiteError(
        f"{said}; no key was made", hint="HTX's servers had a problem: try again later"
    )


def capture_keys(ctx: ProvisionContext) -> None:
    created = CreatedDialog(ctx.page)
    access_key = read_value(created.access_key_box)
    secret_key = read_value(created.secret_key_box)
    REDACTOR.add(secret_key, label="secret key")
    if not access_key or not secret_key:
        raise SiteError("The Successfully Created dialog showed no key pair")
    ctx.record = new_record(
        ctx.request, access_key, secret_key, account=ctx.email, site=ctx.base_url
    )
    ctx.stored_in = announce_and_store(ctx.store, ctx.record, ctx.rescue_dir, ctx.on_key)


def check_list(ctx: ProvisionContext) -> None:
    assert ctx.record is not None
    created = CreatedDialog(ctx.page)
    try:
        press(created.confirm_button, "the Confirm button", ctx.timeout_ms)
        created.root.wait_for(state="hidden", timeout=ctx.timeout_ms)
        ApiManagementPage(ctx.page).row_for(ctx.record.access_key).wait_for(timeout=ctx.timeout_ms)
    except PlaywrightError as exc:
        # The key exists and is stored: a list that does not show it is worth a warning,
        # not a failure that would hide the key from the output.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ctx.reporter.info(f"warning: the key list did not show the new key ({first})")


def new_key_row(ctx: ProvisionContext) -> Locator:
    api = ApiManagementPage(ctx.page)
    return api.row_for(ctx.record.access_key) if ctx.record else api.key_table


KEY_STEPS: tuple[Step[ProvisionContext], ...] = (
    OPEN_API_MANAGEMENT,
    Step(
        "Fill in the note, permissions and IP whitelist",
        "Give the key a note, tick the permissions it needs and link the IP addresses "
        "allowed to use it.",
        fill_form,
        target=lambda ctx: ApiManagementPage(ctx.page).create_form,
        shot="after",  # the form as filled in
    ),
    Step(
        "Press Create",
        "Press Create; HTX opens the Security Authentication dialog.",
        press_create,
        target=lambda ctx: ApiManagementPage(ctx.page).create_button,
    ),
    SEND_EMAIL_CODE,
    Step(
        "Enter the codes and confirm",
        "Enter the code from the email and a fresh Google Authenticator code, then press Confirm.",
        confirm_create,
        target=lambda ctx: SecurityDialog(ctx.page).root,
    ),
    Step(
        "Copy the Access Key and Secret Key",
        "Copy both keys from the Successfully Created dialog and keep them safe: the "
        "Secret Key is shown only once.",
        capture_keys,
        target=lambda ctx: CreatedDialog(ctx.page).root,
    ),
    Step(
        "Close the dialog and check the key list",
        "Press Confirm; the new key appears in the list of API keys.",
        check_list,
        target=new_key_row,
        shot="after",  # the list with the new key in it
    ),
)

# The login steps take any SiteContext, a ProvisionContext among them.
PROVISION = Flow[ProvisionContext](
    name="provision",
    title="Create an HTX API key",
    steps=(*LOGIN_STEPS, *KEY_STEPS),  # type: ignore[arg-type]
    requirements=(
        "An HTX account with Google Authenticator bound to it, and the authenticator app at hand.",
        "Access to the account's mailbox: HTX emails a verification code when a key is created.",
        "The public IP addresses of the machines that will use the key, to link to it (a key "
        "that can trade or withdraw and has no linked IP address is deactivated after "
        f"{NO_IP_EXPIRY_DAYS} days without use).",
        "A safe place for the Secret Key, such as a password manager: HTX shows it only once.",
    ),
)
