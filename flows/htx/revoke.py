"""The steps of deleting an HTX API key in the website: the row's Delete, the confirmation,
and the same Security Authentication as creating one.

Used by `keys revoke`, `keys rotate` (for the old key), `keys reconcile --revoke` and `exec`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from playwright.sync_api import Locator
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.errors import NotFound
from automation.runner import Step
from automation.store import short
from flows.htx.context import SiteContext
from flows.htx.finding import press
from flows.htx.outcome import check_session
from flows.htx.pages import ApiManagementPage, DeleteDialog, SecurityDialog
from flows.htx.security import OPEN_API_MANAGEMENT, SEND_EMAIL_CODE, confirm_codes


@dataclass(kw_only=True)
class RevokeContext(SiteContext):
    access_key: str


def press_delete(ctx: RevokeContext) -> None:
    api = ApiManagementPage(ctx.page)
    # Only a settled table can say a key is not there (one still loading shows no rows).
    api.wait_settled(ctx.timeout_ms)
    if api.row_for(ctx.access_key).count() == 0:
        raise NotFound(f"Key {short(ctx.access_key)} is not in HTX's list of API keys")
    press(api.delete_button(ctx.access_key), "the key's Delete button", ctx.timeout_ms)
    DeleteDialog(ctx.page).root.wait_for(timeout=ctx.timeout_ms)


def confirm_delete(ctx: RevokeContext) -> None:
    press(DeleteDialog(ctx.page).confirm_button, "the Confirm button", ctx.timeout_ms)
    SecurityDialog(ctx.page).root.wait_for(timeout=ctx.timeout_ms)


def authorize_delete(ctx: RevokeContext) -> None:
    row = ApiManagementPage(ctx.page).row_for(ctx.access_key)
    confirm_codes(
        ctx,
        lambda: gone_or_error(ctx, row),
        f"key {short(ctx.access_key)} may have been deleted; check API Management",
    )


def gone_or_error(ctx: SiteContext, row: Locator) -> str | None:
    """None once the page lists the keys again without `row`; the dialog's error if it shows
    one. On success the page fetches the list again, so the row's absence is only trusted
    with the dialog gone and the table settled (rows or its empty placeholder)."""
    dialog = SecurityDialog(ctx.page)
    api = ApiManagementPage(ctx.page)
    deadline = time.monotonic() + ctx.timeout_ms / 1000
    while time.monotonic() < deadline:
        check_session(ctx, "Confirm")
        if dialog.alert.count() and dialog.alert.first.is_visible():
            return dialog.alert.first.inner_text().strip()
        if not dialog.root.is_visible() and api.settled() and row.count() == 0:
            return None
        ctx.page.wait_for_timeout(100)
    raise PlaywrightTimeout("the key stayed in the list")


REVOKE_STEPS: tuple[Step[RevokeContext], ...] = (
    OPEN_API_MANAGEMENT,
    Step(
        "Press Delete on the key's row",
        "Find the key by its Access Key in the list and press Delete in its row.",
        press_delete,
        target=lambda ctx: ApiManagementPage(ctx.page).delete_button(ctx.access_key),
    ),
    Step(
        "Confirm the deletion",
        "HTX asks whether to delete the key: press Confirm.",
        confirm_delete,
        target=lambda ctx: DeleteDialog(ctx.page).confirm_button,
    ),
    SEND_EMAIL_CODE,
    Step(
        "Enter the codes and confirm",
        "Enter the code from the email and a fresh Google Authenticator code, then press "
        "Confirm; the key disappears from the list.",
        authorize_delete,
        target=lambda ctx: SecurityDialog(ctx.page).root,
    ),
)
