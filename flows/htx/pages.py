"""Page objects for the HTX website: every selector the tool uses lives here and only here.

When HTX changes a label, this is the one file to edit. Locators prefer accessible roles and
labels (what a person reads), as the live site and the sandbox both expose them; the texts are
gathered at the top so an update is a one-line change. Elements that show secrets are listed
by `sensitive_locators` so screenshots and videos can mask them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Locator, Page

# --- texts of the site, in one place -------------------------------------------------------
LOGIN_PATH = "/en-us/login/"
APIKEY_PATH = "/en-us/apikey/"
T_EMAIL = "Email/Phone Number"
T_PASSWORD = "Password"
T_LOGIN = "Log In"
T_GA_CODE = "Google Authenticator code"
T_CONFIRM = "Confirm"
T_ACCOUNT_MENU = "Account"
T_API_MANAGEMENT = "API Management"
T_NOTE = "Note"
T_PERMISSIONS = "Permission settings"
T_PERMISSION = {"read": "Read-only", "trade": "Trade", "withdraw": "Withdraw"}
T_IPS = "Link IP Address (optional)"
T_CREATE = "Create"
T_KEY_TABLE = "API Keys"
T_SECURITY_DIALOG = "Security Authentication"
T_EMAIL_CODE = "Email verification code"
# Any state of the email code button ("Send", "Resend (42s)"), never "Send SMS code".
T_SEND = re.compile(r"^(Send|Get code|Resend)(\s*\(\s*\d+\s*s\s*\))?$", re.I)
T_COUNTDOWN = re.compile(r"^Resend\s*\(\s*(\d+)\s*s\s*\)$", re.I)  # "Resend (59s)": sent
T_CAPTCHA_SLIDER = "Slide to verify"  # older UI: Alibaba NoCaptcha, #nc_1_n1z
T_NEW_DEVICE = "New Device Verification"
T_SMS_CODE = "SMS verification code"
T_SEND_SMS = "Send SMS code"
T_CANCEL = "Cancel"
T_CREATED_DIALOG = "Successfully Created"
T_ACCESS_KEY = "Access Key"
T_SECRET_KEY = "Secret Key"
T_DELETE = "Delete"  # in the key table's Action column
T_DELETE_DIALOG = "Delete API Key"
# The labels of fields that hold a login, a password, a code or a key: recordings blur them in
# the page before they are painted (automation/blur.py matches labels, case-insensitively, as
# substrings of what the page shows, as get_by_label does).
SENSITIVE_LABELS = (
    T_EMAIL,
    T_PASSWORD,
    T_GA_CODE,
    T_EMAIL_CODE,
    T_SMS_CODE,
    T_ACCESS_KEY,
    T_SECRET_KEY,
)


class _Area:
    """A page or a dialog: both show errors in an alert and end with a Confirm button."""

    scope: Page | Locator

    @property
    def alert(self) -> Locator:
        return self.scope.get_by_role("alert").filter(has_text=re.compile(r"\S"))

    @property
    def confirm_button(self) -> Locator:
        return self.scope.get_by_role("button", name=T_CONFIRM, exact=True)


class LoginPage(_Area):
    def __init__(self, page: Page) -> None:
        self.page = page
        self.scope = page

    def open(self, base_url: str, back_path: str = APIKEY_PATH) -> None:
        self.page.goto(f"{base_url}{LOGIN_PATH}?backUrl={back_path}")
        self.email_box.wait_for()

    @property
    def email_box(self) -> Locator:
        return self.page.get_by_label(T_EMAIL)

    @property
    def password_box(self) -> Locator:
        return self.page.get_by_label(T_PASSWORD, exact=True)

    @property
    def login_button(self) -> Locator:
        return self.page.get_by_role("button", name=T_LOGIN, exact=True)

    @property
    def ga_box(self) -> Locator:
        return self.page.get_by_label(T_GA_CODE)

    @property
    def password_form(self) -> Locator:
        """The form around the email and password boxes: what the login step fills in."""
        return self.page.locator("form").filter(has=self.password_box)

    @property
    def ga_form(self) -> Locator:
        return self.page.locator("form").filter(has=self.ga_box)

    @property
    def captcha(self) -> Locator:
        """A slider captcha: for a person to solve; the tool never touches it."""
        return self.page.get_by_role("slider", name=T_CAPTCHA_SLIDER)

    def submit_password(self, email: str, password: str) -> None:
        self.email_box.fill(email)
        self.password_box.fill(password)
        self.login_button.click()

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
        self.confirm_button.click()


class NewDeviceStep(_Area):
    """HTX may ask a browser it has not seen before for an emailed code after the GA step."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.scope = page

    @property
    def heading(self) -> Locator:
        return self.page.get_by_role("heading", name=T_NEW_DEVICE)

    @property
    def email_code_box(self) -> Locator:
        return self.page.get_by_label(T_EMAIL_CODE)

    @property
    def send_button(self) -> Locator:
        return self.page.get_by_role("button", name=T_SEND)

    @property
    def countdown_button(self) -> Locator:
        return self.page.get_by_role("button", name=T_COUNTDOWN)


class Header:
    def __init__(self, page: Page) -> None:
        self.page = page

    @property
    def account_button(self) -> Locator:
        return self.page.get_by_role("button", name=T_ACCOUNT_MENU)

    @property
    def api_management_item(self) -> Locator:
        return self.page.get_by_role("menuitem", name=T_API_MANAGEMENT)

    def open_api_management(self) -> None:
        self.account_button.click()
        self.api_management_item.click()


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
        return self.page.get_by_role("heading", name=T_API_MANAGEMENT)

    @property
    def note_box(self) -> Locator:
        return self.page.get_by_label(T_NOTE, exact=True)

    @property
    def create_form(self) -> Locator:
        """The form with the note, permissions and IP whitelist."""
        return self.page.locator("form").filter(has=self.note_box)

    def permission_box(self, name: str) -> Locator:
        group = self.page.get_by_role("group", name=T_PERMISSIONS)
        return group.get_by_role("checkbox", name=T_PERMISSION[name])

    @property
    def ip_box(self) -> Locator:
        return self.page.get_by_label(T_IPS)

    @property
    def create_button(self) -> Locator:
        return self.page.get_by_role("button", name=T_CREATE, exact=True)

    @property
    def form_errors(self) -> Locator:
        return self.page.get_by_role("form").get_by_role("alert").filter(has_text=re.compile(r"\S"))

    @property
    def key_table(self) -> Locator:
        return self.page.get_by_role("table", name=T_KEY_TABLE)

    def row_for(self, access_key: str) -> Locator:
        return self.key_table.get_by_role("row").filter(has_text=access_key)

    def delete_button(self, access_key: str) -> Locator:
        return self.row_for(access_key).get_by_role("button", name=T_DELETE, exact=True)

    def fill(self, note: str, permissions: tuple[str, ...], ips: tuple[str, ...]) -> None:
        self.note_box.fill(note)
        for name in ("trade", "withdraw"):
            self.permission_box(name).set_checked(name in permissions)
        self.ip_box.fill(",".join(ips))

    def rows(self) -> list[KeyRow]:
        result = []
        for row in self.key_table.get_by_role("row").all()[1:]:
            cells = [c.strip() for c in row.get_by_role("cell").all_inner_texts()]
            if len(cells) >= 7:
                result.append(KeyRow(*cells[:7]))
        return result


class SecurityDialog(_Area):
    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = self.scope = page.get_by_role("dialog", name=T_SECURITY_DIALOG)

    @property
    def email_code_box(self) -> Locator:
        return self.root.get_by_label(T_EMAIL_CODE)

    @property
    def send_button(self) -> Locator:
        return self.root.get_by_role("button", name=T_SEND)

    @property
    def countdown_button(self) -> Locator:
        """What the Send button turns into once a code is on its way."""
        return self.root.get_by_role("button", name=T_COUNTDOWN)

    @property
    def ga_box(self) -> Locator:
        return self.root.get_by_label(T_GA_CODE)

    @property
    def sms_code_box(self) -> Locator:
        """Only on accounts that still have SMS as a factor."""
        return self.root.get_by_label(T_SMS_CODE)

    @property
    def send_sms_button(self) -> Locator:
        return self.root.get_by_role("button", name=T_SEND_SMS, exact=True)

    @property
    def cancel_button(self) -> Locator:
        return self.root.get_by_role("button", name=T_CANCEL, exact=True)


class CreatedDialog(_Area):
    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = self.scope = page.get_by_role("dialog", name=T_CREATED_DIALOG)

    @property
    def access_key_box(self) -> Locator:
        return self.root.get_by_label(T_ACCESS_KEY, exact=True)

    @property
    def secret_key_box(self) -> Locator:
        return self.root.get_by_label(T_SECRET_KEY, exact=True)


class DeleteDialog(_Area):
    """ "Delete API Key": asks to confirm before the Security Authentication dialog opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.root = self.scope = page.get_by_role("dialog", name=T_DELETE_DIALOG)

    @property
    def cancel_button(self) -> Locator:
        return self.root.get_by_role("button", name=T_CANCEL, exact=True)


def seconds_until_enabled(send: Locator) -> int:
    """0 when a Send button can be pressed; else what its countdown says ("Resend (42s)")."""
    if send.is_enabled():
        return 0
    match = T_COUNTDOWN.match(send.inner_text().strip())
    return int(match.group(1)) if match else 60


def read_value(box: Locator) -> str:
    """The text of a read-only textbox, or of an element that shows the value as text."""
    tag = box.evaluate("el => el.tagName.toLowerCase()")
    value = box.input_value() if tag in ("input", "textarea") else box.inner_text()
    return value.strip()


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


def first_of(wanted: Locator, error: Locator, timeout_ms: float) -> str | None:
    """Wait until either shows: None for `wanted`, else the error's text.

    Pages here answer through scripts, so a click is followed by a wait for its outcome,
    whichever of the two it is, rather than a fixed pause.
    """
    wanted.or_(error).first.wait_for(timeout=timeout_ms)
    if wanted.first.is_visible():
        return None
    return error.first.inner_text().strip()
