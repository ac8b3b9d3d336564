"""Page objects for the HTX website: every selector the tool uses lives here and only here.

The texts and the ways to find each element are data in flows/htx/locators.py (an ordered
list of ways per element, keyed "Class.property"); here each property asks for its element by
that name, so the rest of the code keeps its names. Elements that show secrets are listed by
`sensitive_locators` (flows/htx/masks.py) so screenshots and videos can mask them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from playwright.sync_api import Locator, Page

from automation.errors import SiteError
from flows.htx.finding import find, press, shows
from flows.htx.locators import TEXTS

# --- texts of the site: flows/htx/locators.py TEXTS; the names the code has always used ---------
LOGIN_PATH = "/en-us/login/"
APIKEY_PATH = "/en-us/apikey/"
T_EMAIL = str(TEXTS["T_EMAIL"])
T_PASSWORD = str(TEXTS["T_PASSWORD"])
T_GA_CODE = str(TEXTS["T_GA_CODE"])
T_SECURITY_DIALOG = str(TEXTS["T_SECURITY_DIALOG"])
T_EMAIL_CODE = str(TEXTS["T_EMAIL_CODE"])
T_SMS_CODE = str(TEXTS["T_SMS_CODE"])
T_ACCESS_KEY = str(TEXTS["T_ACCESS_KEY"])
T_SECRET_KEY = str(TEXTS["T_SECRET_KEY"])
# The labels of fields that hold a login, a password, a code or a key: recordings blur them in
# the page before they are painted (automation/blur.py matches labels, case-insensitively, as
# substrings of what the page shows, as get_by_label does).
SENSITIVE_TEXTS = (
    "T_EMAIL", "T_PASSWORD", "T_GA_CODE", "T_EMAIL_CODE", "T_SMS_CODE", "T_ACCESS_KEY",
    "T_SECRET_KEY",
)  # fmt: skip
SENSITIVE_LABELS = tuple(str(TEXTS[name]) for name in SENSITIVE_TEXTS)  # as shipped


def sensitive_labels() -> tuple[str, ...]:
    """SENSITIVE_LABELS and, when a site file renamed one, the new label too: a field is blurred
    under either name."""
    current = (str(TEXTS[name]) for name in SENSITIVE_TEXTS)
    return tuple(dict.fromkeys((*SENSITIVE_LABELS, *current)))


def permission_labels() -> dict[str, str]:
    """What the site calls each permission now (a site file may rename one)."""
    return {p: str(TEXTS[f"T_PERMISSION[{p}]"]) for p in ("read", "trade", "withdraw")}


T_PERMISSION = permission_labels()  # as shipped


class _Area:
    """A page or a dialog: both show errors in an alert and end with a Confirm button."""

    scope: Page | Locator

    @property
    def alert(self) -> Locator:
        return find(self.scope, "Area.alert").filter(has_text=re.compile(r"\S"))

    @property
    def confirm_button(self) -> Locator:
        return find(self.scope, "Area.confirm_button")


class LoginPage(_Area):
    def __init__(self, page: Page) -> None:
        self.page = page
        self.scope = page

    def open(self, base_url: str, back_path: str = APIKEY_PATH) -> None:
        self.page.goto(f"{base_url}{LOGIN_PATH}?backUrl={back_path}")
        self.email_box.wait_for()

    @property
    def email_box(self) -> Locator:
        return find(self.page, "LoginPage.email_box")

    @property
    def password_box(self) -> Locator:
        return find(self.page, "LoginPage.password_box")

    @property
    def login_button(self) -> Locator:
        return find(self.page, "LoginPage.login_button")

    @property
    def ga_box(self) -> Locator:
        return find(self.page, "LoginPage.ga_box")

    @property
    def password_form(self) -> Locator:
        """The form around the email and password boxes: what the login step fills in."""
        return find(self.page, "LoginPage.password_form")

    @property
    def ga_form(self) -> Locator:
        return find(self.page, "LoginPage.ga_form")

    @property
    def captcha(self) -> Locator:
        """A slider captcha: for a person to solve; the tool never touches it."""
        return find(self.page, "LoginPage.captcha")

    def submit_password(self, email: str, password: str) -> None:
        self.email_box.fill(email)
        self.password_box.fill(password)
        press(self.login_button, "the Log In button")

    def wait_after_password(self, timeout_ms: float) -> str:
        """ "ga" (the GA step), "captcha", or the error text the page showed."""
        self.ga_box.or_(self.captcha).or_(self.alert).first.wait_for(timeout=timeout_ms)
        if self.ga_box.is_visible():
            return "ga"
        if self.captcha.count() and self.captcha.first.is_visible():
            return "captcha"
        return self.alert.first.inner_text().strip()

    def submit_ga(self, code: str) -> None:
        self.ga_box.fill(code)
        press(self.confirm_button, "the Confirm button")


class NewDeviceStep(_Area):
    """HTX may ask a browser it has not seen before for an emailed code after the GA step."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.scope = page

    @property
    def heading(self) -> Locator:
        return find(self.page, "NewDeviceStep.heading")

    @property
    def email_code_box(self) -> Locator:
        return find(self.page, "NewDeviceStep.email_code_box")

    @property
    def send_button(self) -> Locator:
        return find(self.page, "NewDeviceStep.send_button")

    @property
    def countdown_button(self) -> Locator:
        return find(self.page, "NewDeviceStep.countdown_button")


class Header:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def account_button(self) -> Locator:
        return find(self.page, "Header.account_button")

    @property
    def api_management_item(self) -> Locator:
        return find(self.page, "Header.api_management_item")

    def open_api_management(self) -> None:
        press(self.account_button, "the Account button")
        press(self.api_management_item, "the API Management menu item")


@dataclass(frozen=True)
class KeyRow:
    created: str
    note: str
    permissions: str
    access_key: str
    bound_ip: str
    valid_days: str
    status: str


class ApiManagementPage:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def heading(self) -> Locator:
        return find(self.page, "ApiManagementPage.heading")

    @property
    def note_box(self) -> Locator:
        return find(self.page, "ApiManagementPage.note_box")

    @property
    def create_form(self) -> Locator:
        """The form with the note, permissions and IP whitelist."""
        return find(self.page, "ApiManagementPage.create_form")

    def permission_box(self, name: str) -> Locator:
        return find(self.page, "ApiManagementPage.permission_box", perm=name)

    @property
    def ip_box(self) -> Locator:
        return find(self.page, "ApiManagementPage.ip_box")

    @property
    def create_button(self) -> Locator:
        return find(self.page, "ApiManagementPage.create_button")

    @property
    def form_errors(self) -> Locator:
        errors = find(self.page, "ApiManagementPage.form_errors")
        return errors.filter(has_text=re.compile(r"\S"))

    @property
    def key_table(self) -> Locator:
        return find(self.page, "ApiManagementPage.key_table")

    @property
    def empty_placeholder(self) -> Locator:
        """What the table shows instead of rows when the account has no key ("No data")."""
        return find(self.page, "ApiManagementPage.empty_placeholder")

    @property
    def loading(self) -> Locator:
        """The table while its list is on the way."""
        return find(self.page, "ApiManagementPage.loading")

    def _shows_empty(self) -> bool:
        return shows(self.page, "ApiManagementPage.empty_placeholder")

    def _loading(self) -> bool:
        return shows(self.page, "ApiManagementPage.loading")

    def row_for(self, access_key: str) -> Locator:
        return find(self.page, "ApiManagementPage.row", access_key=access_key)

    def delete_button(self, access_key: str) -> Locator:
        return find(self.page, "ApiManagementPage.delete_button", access_key=access_key)

    def fill(self, note: str, permissions: tuple[str, ...], ips: tuple[str, ...]) -> None:
        self.note_box.fill(note)
        for name in ("trade", "withdraw"):
            box = self.permission_box(name)
            if box.is_checked() != (name in permissions):
                press(box, f"the {permission_labels()[name]} checkbox")
        self.ip_box.fill(",".join(ips))

    def settled(self) -> bool:
        """True once the table shows what the site answered: key rows, or the empty
        placeholder, and no loading state. A table on its way shows neither."""
        return self._look()[0] is not None

    def _look(self) -> tuple[list[list[str]] | None, str]:
        """One look at the table: the data rows' cells once it has settled ([] with its empty
        placeholder); else None, and the message of a table that has finished loading with
        neither rows nor its placeholder (one cell across the table saying what went wrong)."""
        if not self.key_table.is_visible() or self._loading():
            return None, ""
        cells = self._cells()
        rows = [row for row in cells if len(row) >= 7]
        if rows:
            return rows, ""
        if self._shows_empty():
            # Also when the placeholder came after the cells were read: no keys, not a message.
            return [], ""
        texts = [row[0] for row in cells if len(row) == 1 and row[0]]
        return None, texts[0] if len(texts) == 1 else ""

    def wait_settled(self, timeout_ms: float) -> list[KeyRow]:
        """Wait for `settled`, and return its key rows; a table that never settles, or
        that shows a message instead of its keys (HTX could not list them), is a SiteError,
        never "no keys"."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            rows, message = self._look()
            if rows is not None:
                return [KeyRow(*cells[:7]) for cells in rows]
            if message:
                raise SiteError(
                    f"HTX did not list the keys: {message}",
                    hint="HTX may have a passing problem: try again later",
                )
            if time.monotonic() >= deadline:
                raise SiteError(
                    f"The key list did not finish loading within {timeout_ms / 1000:g} s",
                    hint="HTX may be slow: try again, or raise --timeout",
                )
            self.page.wait_for_timeout(100)

    def _cells(self) -> list[list[str]]:
        """Each row's cell texts, read in one call to the page (rows by their role, as
        get_by_role finds them; cells as _ROW_CELLS says)."""
        rows = self.key_table.get_by_role("row")
        return [list(map(str, cells)) for cells in rows.evaluate_all(_ROW_CELLS)]

    def rows(self, timeout_ms: float = 30_000) -> list[KeyRow]:
        """The key rows, read once the table has settled (else SiteError)."""
        return self.wait_settled(timeout_ms)


# A row's cells as get_by_role("cell") finds them (tests/e2e/test_page_reading.py): <td> or
# role=cell below the row, a nested table's too, neither hidden (aria-hidden, not rendered,
# visibility: hidden); their text as inner_text reads it.
_ROW_CELLS = """rows => rows.map(row => Array.from(row.querySelectorAll("td, [role=cell]"))
  .filter(c => !c.closest("[aria-hidden=true]"))
  .filter(c => (c.getAttribute("role") || "cell") === "cell")
  .filter(c => c.getClientRects().length > 0 && getComputedStyle(c).visibility !== "hidden")
  .map(c => c.innerText.trim()))"""


class SecurityDialog(_Area):
    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = self.scope = find(page, "SecurityDialog.root")

    @property
    def email_code_box(self) -> Locator:
        return find(self.root, "SecurityDialog.email_code_box")

    @property
    def send_button(self) -> Locator:
        return find(self.root, "SecurityDialog.send_button")

    @property
    def countdown_button(self) -> Locator:
        """What the Send button turns into once a code is on its way."""
        return find(self.root, "SecurityDialog.countdown_button")

    @property
    def ga_box(self) -> Locator:
        return find(self.root, "SecurityDialog.ga_box")

    @property
    def sms_code_box(self) -> Locator:
        """Only on accounts that still have SMS as a factor."""
        return find(self.root, "SecurityDialog.sms_code_box")

    @property
    def send_sms_button(self) -> Locator:
        return find(self.root, "SecurityDialog.send_sms_button")

    def asks_sms(self) -> bool:
        """Whether the dialog has an SMS code box (older accounts)."""
        return shows(self.root, "SecurityDialog.sms_code_box")

    @property
    def cancel_button(self) -> Locator:
        return find(self.root, "SecurityDialog.cancel_button")


class CreatedDialog(_Area):
    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = self.scope = find(page, "CreatedDialog.root")

    @property
    def access_key_box(self) -> Locator:
        return find(self.root, "CreatedDialog.access_key_box")

    @property
    def secret_key_box(self) -> Locator:
        return find(self.root, "CreatedDialog.secret_key_box")


class DeleteDialog(_Area):
    """ "Delete API Key": asks to confirm before the Security Authentication dialog opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = self.scope = find(page, "DeleteDialog.root")

    @property
    def cancel_button(self) -> Locator:
        return find(self.root, "DeleteDialog.cancel_button")
