"""Every text of the HTX website the tool reads, and every way it has to find each element: data.

The live site is a single-page app whose markup changes between releases, and labels tied to
their inputs cannot be taken for granted. So each element the flow uses has a stable name
("ApiManagementPage.note_box": the page object and its property) and an ordered list of ways
to find it, most human first: role and name, label, placeholder, visible text, then CSS or a
test id. The first way that matches a visible element on the page wins (flows/htx/finding.py);
ways by CSS, test id or text only ever match visible elements.

Nothing here is code: a later override file can replace any text (TEXTS, by its constant's
name) or any element's list of ways (ELEMENTS, by its name).

A way's `text` names an entry of TEXTS (the exact name, "{arg}" filled in from the page
object's arguments: "T_PERMISSION[{perm}]"); `css`, `has_text` are templates in which
"{T_NAME}" is that text and "{arg}" an argument. `within` and `has` name other elements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Text = str | re.Pattern[str]

TEXTS: dict[str, Text] = {
    "T_EMAIL": "Email/Phone Number",
    "T_PASSWORD": "Password",
    "T_LOGIN": "Log In",
    "T_GA_CODE": "Google Authenticator code",
    "T_CONFIRM": "Confirm",
    "T_ACCOUNT_MENU": "Account",
    "T_API_MANAGEMENT": "API Management",
    "T_NOTE": "Note",
    "T_PERMISSIONS": "Permission settings",
    "T_PERMISSION[read]": "Read-only",
    "T_PERMISSION[trade]": "Trade",
    "T_PERMISSION[withdraw]": "Withdraw",
    "T_IPS": "Link IP Address (optional)",
    "T_IPS_EXAMPLE": "e.g. 192.168.0.1",  # the IP box's placeholder begins so
    "T_CREATE": "Create",
    "T_KEY_TABLE": "API Keys",
    "T_NO_DATA": "No data",  # the key table's empty placeholder
    "T_LOADING": "Loading",  # the key table while its list is on the way
    "T_SECURITY_DIALOG": "Security Authentication",
    "T_EMAIL_CODE": "Email verification code",
    # Any state of the email code button ("Send", "Resend (42s)"), never "Send SMS code".
    "T_SEND": re.compile(r"^(Send|Get code|Resend)(\s*\(\s*\d+\s*s\s*\))?$", re.I),
    "T_COUNTDOWN": re.compile(r"^Resend\s*\(\s*(\d+)\s*s\s*\)$", re.I),  # "Resend (59s)"
    "T_CAPTCHA_SLIDER": "Slide to verify",  # older UI: Alibaba NoCaptcha, #nc_1_n1z
    "T_NEW_DEVICE": "New Device Verification",
    "T_SMS_CODE": "SMS verification code",
    "T_SEND_SMS": "Send SMS code",
    "T_CANCEL": "Cancel",
    "T_CREATED_DIALOG": "Successfully Created",
    "T_ACCESS_KEY": "Access Key",
    "T_SECRET_KEY": "Secret Key",
    "T_DELETE": "Delete",  # in the key table's Action column
    "T_DELETE_DIALOG": "Delete API Key",
    # First-visit overlays the flow dismisses [I: the live wording is not known].
    "T_COOKIE_BANNER": "Cookie consent",
    "T_COOKIE_ACCEPT": "Accept All",
    "T_NOTICE": "Announcement",
    "T_NOTICE_DISMISS": "I Understand",
}


@dataclass(frozen=True)
class Way:
    """One way to find an element. `by`: role | label | placeholder | text | css | testid."""

    by: str
    text: str = ""  # a TEXTS name: the role's name, the label, placeholder or visible text
    role: str = ""
    css: str = ""  # a selector for by=css (Playwright's, so "xpath=..." too); the id for testid
    exact: bool = False
    has_text: str = ""  # the element must contain this
    has: str = ""  # the element must contain this other element
    within: str = ""  # look inside this other element rather than the page or dialog


BY = ("role", "label", "placeholder", "text", "css", "testid")


def _box(text: str, exact: bool = False, role: str = "textbox") -> tuple[Way, ...]:
    """A text field: tied label, then placeholder, then the text just before it."""
    return (
        Way("label", text, exact=exact),
        Way("placeholder", text, exact=exact),
        Way("role", text, role=role, exact=exact),
        Way("css", css=f"xpath=.//*[normalize-space(text())='{{{text}}}']/following::input[1]"),
    )


def _button(text: str, exact: bool = True) -> tuple[Way, ...]:
    return (
        Way("role", text, role="button", exact=exact),
        Way("css", css="button, [role=button], [data-submit]", has_text=f"{{{text}}}"),
    )


def _dialog(text: str) -> tuple[Way, ...]:
    return (
        Way("role", text, role="dialog"),
        Way("css", css="dialog, [role=dialog]", has_text=f"{{{text}}}"),
    )


ELEMENTS: dict[str, tuple[Way, ...]] = {
    # Messages and the last button of a page or a dialog, inside its scope.
    "Area.alert": (Way("role", role="alert"),),
    "Area.confirm_button": _button("T_CONFIRM"),
    "LoginPage.email_box": _box("T_EMAIL"),
    "LoginPage.password_box": (
        Way("label", "T_PASSWORD", exact=True),
        Way("placeholder", "T_PASSWORD", exact=True),
        Way("css", css="input[type=password]"),
    ),
    "LoginPage.login_button": _button("T_LOGIN"),
    "LoginPage.ga_box": (*_box("T_GA_CODE"), Way("css", css="input[maxlength='6']")),
    "LoginPage.password_form": (Way("css", css="form", has="LoginPage.password_box"),),
    "LoginPage.ga_form": (Way("css", css="form", has="LoginPage.ga_box"),),
    "LoginPage.captcha": (Way("role", "T_CAPTCHA_SLIDER", role="slider"),),
    "NewDeviceStep.heading": (Way("role", "T_NEW_DEVICE", role="heading"),),
    "NewDeviceStep.email_code_box": _box("T_EMAIL_CODE"),
    "NewDeviceStep.send_button": (Way("role", "T_SEND", role="button"),),
    "NewDeviceStep.countdown_button": (Way("role", "T_COUNTDOWN", role="button"),),
    "Header.account_button": (
        Way("role", "T_ACCOUNT_MENU", role="button"),
        Way("css", css="[aria-haspopup=menu]"),
    ),
    "Header.api_management_item": (
        Way("role", "T_API_MANAGEMENT", role="menuitem"),
        Way("css", css="a[href*='/apikey']", has_text="{T_API_MANAGEMENT}"),
    ),
    "ApiManagementPage.heading": (
        Way("role", "T_API_MANAGEMENT", role="heading"),
        Way("css", css="h1, h2", has_text="{T_API_MANAGEMENT}"),
    ),
    "ApiManagementPage.note_box": (
        Way("label", "T_NOTE", exact=True),
        Way("placeholder", "T_NOTE"),
        Way("css", css="input[name=note]"),
    ),
    "ApiManagementPage.create_form": (Way("css", css="form", has="ApiManagementPage.note_box"),),
    "ApiManagementPage.permission_group": (
        Way("role", "T_PERMISSIONS", role="group"),
        Way("css", css="xpath=.//*[normalize-space(text())='{T_PERMISSIONS}']/.."),
    ),
    "ApiManagementPage.permission_box": (
        Way(
            "role",
            "T_PERMISSION[{perm}]",
            role="checkbox",
            within="ApiManagementPage.permission_group",
        ),
        Way("label", "T_PERMISSION[{perm}]", exact=True),
        Way(
            "css",
            css="xpath=.//input[@type='checkbox']"
            "[following-sibling::*[normalize-space(.)='{T_PERMISSION[{perm}]}']]",
        ),
    ),
    "ApiManagementPage.ip_box": (
        Way("label", "T_IPS"),
        Way("placeholder", "T_IPS"),
        Way("placeholder", "T_IPS_EXAMPLE"),
        Way("css", css="textarea[name=ips]"),
    ),
    "ApiManagementPage.create_button": _button("T_CREATE"),
    "ApiManagementPage.form_errors": (
        Way("role", role="alert", within="ApiManagementPage.create_form"),
    ),
    "ApiManagementPage.key_table": (
        Way("role", "T_KEY_TABLE", role="table"),
        Way("css", css="xpath=.//*[normalize-space(text())='{T_KEY_TABLE}']/following::table[1]"),
    ),
    "ApiManagementPage.row": (
        Way("role", role="row", has_text="{access_key}", within="ApiManagementPage.key_table"),
    ),
    "ApiManagementPage.delete_button": (
        Way("role", "T_DELETE", role="button", exact=True, within="ApiManagementPage.row"),
        Way("text", "T_DELETE", exact=True, within="ApiManagementPage.row"),
    ),
    "ApiManagementPage.empty_placeholder": (
        Way("text", "T_NO_DATA", within="ApiManagementPage.key_table"),
    ),
    "ApiManagementPage.loading": (
        Way("css", css="[aria-busy=true]", within="ApiManagementPage.key_table"),
        Way("text", "T_LOADING", within="ApiManagementPage.key_table"),
    ),
    "SecurityDialog.root": _dialog("T_SECURITY_DIALOG"),
    "SecurityDialog.email_code_box": _box("T_EMAIL_CODE"),
    "SecurityDialog.send_button": (Way("role", "T_SEND", role="button"),),
    "SecurityDialog.countdown_button": (Way("role", "T_COUNTDOWN", role="button"),),
    "SecurityDialog.ga_box": _box("T_GA_CODE"),
    "SecurityDialog.sms_code_box": _box("T_SMS_CODE"),
    "SecurityDialog.send_sms_button": _button("T_SEND_SMS"),
    "SecurityDialog.cancel_button": _button("T_CANCEL"),
    "CreatedDialog.root": _dialog("T_CREATED_DIALOG"),
    "CreatedDialog.access_key_box": _box("T_ACCESS_KEY", exact=True),
    "CreatedDialog.secret_key_box": _box("T_SECRET_KEY", exact=True),
    "DeleteDialog.root": _dialog("T_DELETE_DIALOG"),
    "DeleteDialog.cancel_button": _button("T_CANCEL"),
    # The overlays a first visit shows; the flow dismisses them (flows/htx/finding.py).
    "Overlay.cookie_banner": (
        Way("role", "T_COOKIE_BANNER", role="region"),
        Way("css", css="[id*=cookie i], [class*=cookie i]"),
    ),
    "Overlay.cookie_accept": _button("T_COOKIE_ACCEPT"),
    "Overlay.notice": _dialog("T_NOTICE"),
    "Overlay.notice_dismiss": _button("T_NOTICE_DISMISS"),
}

# What the flow may dismiss: (the overlay, the button that dismisses it), by element name.
# Topmost first: a modal announcement sits over the cookie banner.
KNOWN_OVERLAYS: dict[str, tuple[str, str]] = {
    "announcement": ("Overlay.notice", "Overlay.notice_dismiss"),
    "cookie banner": ("Overlay.cookie_banner", "Overlay.cookie_accept"),
}
