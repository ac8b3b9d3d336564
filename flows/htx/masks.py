"""What pictures of the HTX pages must not show: the fields and texts that hold a secret or
personal data, found through the page objects (flows/htx/pages.py). Failure screenshots and
the recorder's pictures mask them.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page

from flows.htx.pages import (
    T_SECURITY_DIALOG,
    CreatedDialog,
    LoginPage,
    NewDeviceStep,
    SecurityDialog,
)


def failure_mask(page: Page) -> list[Locator]:
    """For pictures of a failed step, when the page may not be what the flow expects.

    Labels may have changed (that may be why the step failed), so masking by label is not
    enough: every input is masked, and so is every dialog except the Security Authentication
    one, whose error text is what a failure picture is for. A dialog showing a new key may
    have any name.
    """
    dialogs = page.locator("dialog[open], [role=dialog]").filter(has_not_text=T_SECURITY_DIALOG)
    return [
        page.locator("input, textarea"),
        dialogs,
        *uid_locators(page),
        *sensitive_locators(page),
    ]


def sensitive_locators(page: Page) -> list[Locator]:
    """Everything that may show a secret or personal data, for masking in images."""
    login = LoginPage(page)
    dialog = SecurityDialog(page)
    created = CreatedDialog(page)
    return [
        login.email_box,
        login.password_box,
        login.ga_box,
        NewDeviceStep(page).email_code_box,
        dialog.email_code_box,
        dialog.sms_code_box,
        dialog.ga_box,
        created.access_key_box,
        created.secret_key_box,
    ]


# Any email address, masked ones ("de***@example.com") included.
EMAIL_PATTERN = re.compile(r"[^\s@<>\"'()]+@[^\s@<>\"'()]+\.[A-Za-z]{2,}")
# The account's number as a header shows it ("UID 10000001"): personal, like the address.
UID_PATTERN = re.compile(r"\bUID\b[\s:#]*\d{5,}")


def uid_locators(page: Page) -> list[Locator]:
    """The account's number: "UID 10000001" in one element, or after an element saying UID."""
    after_label = "xpath=//*[normalize-space(.)='UID' or normalize-space(.)='UID:']"
    return [
        page.get_by_text(UID_PATTERN),
        page.locator(f"{after_label}/following-sibling::*[1]"),
    ]


def recording_mask(page: Page, texts: list[str]) -> list[Locator]:
    """For the pictures of a recording: the sensitive fields, every element whose text shows
    an email address, and every element showing one of `texts` (the account's login, a key).

    Text is matched, not places: the live site may show the address or a key where the
    sandbox does not.
    """
    shown = [page.get_by_text(text) for text in texts if len(text) >= 4]
    return [
        *sensitive_locators(page),
        page.get_by_text(EMAIL_PATTERN),
        *uid_locators(page),
        *shown,
    ]
