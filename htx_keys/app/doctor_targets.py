"""What `doctor` looks for on the site: every locator of flows/htx/pages.py, named after its
text constant, so a label renamed in pages.py renames the row, and a label HTX renamed shows
as the row that fails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator, Page

from flows.htx import pages
from flows.htx.locators import ELEMENTS, TEXTS


@dataclass(frozen=True)
class Target:
    """One locator of a page object, named after its text constant in pages.py."""

    section: str
    page: str  # class name in pages.py
    attribute: str
    kind: str  # what a person calls the element
    text: str  # the constant holding its text: "T_IPS", or "T_PERMISSION[trade]"
    args: tuple[str, ...] = ()
    also: str = ""  # another constant the locator depends on (a group around it)

    def _parts(self) -> tuple[str, str | None]:
        const, _, key = self.text.partition("[")
        return const, key.rstrip("]") or None

    def value(self) -> str:
        value: Any = TEXTS[self.text]
        if isinstance(value, re.Pattern):  # T_SEND: its first words say which button it is
            words = re.search(r"[A-Za-z][\w ]*", value.pattern)
            return f"{words.group(0) if words else value.pattern}…"
        return str(value)

    @property
    def name(self) -> str:
        return f"{self.section}: {self.kind} '{self.value()}'"

    @property
    def constant(self) -> str:
        const, key = self._parts()
        return f"{const}[{key!r}]" if key else const

    @property
    def element(self) -> str:
        """Its stable name in flows/htx/locators.py ELEMENTS ("LoginPage.email_box"); the
        Confirm button and alerts every page and dialog share are "Area.*"."""
        name = f"{self.page}.{self.attribute}"
        return name if name in ELEMENTS else f"Area.{self.attribute}"

    def locator(self, page: Page) -> Locator:
        member = getattr(getattr(pages, self.page)(page), self.attribute)
        return member(*self.args) if callable(member) else member


def _targets(section: str, page: str, *rows: tuple[str, str, str]) -> tuple[Target, ...]:
    return tuple(Target(section, page, attribute, kind, text) for attribute, kind, text in rows)


LOGIN_FORM = _targets(
    "Log In", "LoginPage",
    ("email_box", "textbox", "T_EMAIL"),
    ("password_box", "textbox", "T_PASSWORD"),
    ("login_button", "button", "T_LOGIN"),
)  # fmt: skip
LOGIN_GA = _targets(
    "Log In", "LoginPage",
    ("ga_box", "textbox", "T_GA_CODE"),
    ("confirm_button", "button", "T_CONFIRM"),
)  # fmt: skip
ACCOUNT_BUTTON, MENU_ITEM = _targets(
    "Header", "Header",
    ("account_button", "button", "T_ACCOUNT_MENU"),
    ("api_management_item", "menu item", "T_API_MANAGEMENT"),
)  # fmt: skip
NOTE_BOX, CREATE_BUTTON = _targets(
    "API Management", "ApiManagementPage",
    ("note_box", "textbox", "T_NOTE"),
    ("create_button", "button", "T_CREATE"),
)  # fmt: skip
API_PAGE = (
    *_targets("API Management", "ApiManagementPage", ("heading", "heading", "T_API_MANAGEMENT")),
    NOTE_BOX,
    *(
        Target("API Management", "ApiManagementPage", "permission_box", "checkbox",
               f"T_PERMISSION[{name}]", (name,), also="T_PERMISSIONS")
        for name in pages.T_PERMISSION
    ),
    *_targets("API Management", "ApiManagementPage", ("ip_box", "textbox", "T_IPS")),
    CREATE_BUTTON,
    *_targets("API Management", "ApiManagementPage", ("key_table", "table", "T_KEY_TABLE")),
)  # fmt: skip
DIALOG_ROOT, *_dialog = _targets(
    "Security Authentication", "SecurityDialog",
    ("root", "dialog", "T_SECURITY_DIALOG"),
    ("email_code_box", "textbox", "T_EMAIL_CODE"),
    ("send_button", "button", "T_SEND"),
    ("ga_box", "textbox", "T_GA_CODE"),
    ("confirm_button", "button", "T_CONFIRM"),
    ("cancel_button", "button", "T_CANCEL"),
)  # fmt: skip
DIALOG = tuple(_dialog)
# Checked on the first key in the list (the argument is filled in then).
DELETE_BUTTON = Target(
    "API Management", "ApiManagementPage", "delete_button", "button", "T_DELETE", ("ACCESS_KEY",)
)
DELETE_ROOT, *_delete = _targets(
    "Delete API Key", "DeleteDialog",
    ("root", "dialog", "T_DELETE_DIALOG"),
    ("confirm_button", "button", "T_CONFIRM"),
    ("cancel_button", "button", "T_CANCEL"),
)  # fmt: skip
DELETE_DIALOG = tuple(_delete)
TARGETS = (
    *LOGIN_FORM, *LOGIN_GA, ACCOUNT_BUTTON, MENU_ITEM, *API_PAGE, DIALOG_ROOT, *DIALOG,
    DELETE_BUTTON, DELETE_ROOT, *DELETE_DIALOG,
)  # fmt: skip


# --- the site, in a browser ------------------------------------------------------------------
