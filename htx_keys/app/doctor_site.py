"""The site part of `htx-keys doctor`: every locator of flows/htx/pages.py, on the real pages.

Each row comes from a table of (page object, attribute, text constant), so a label renamed in
pages.py renames the row, and a label HTX renamed shows as the row that fails.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.browser import BrowserOptions, choose_browser, open_page
from automation.config import Settings
from automation.errors import ConfigError, HtxKeysError, SiteError
from automation.otp import Totp
from automation.runner import Reporter
from automation.schema import ENV_NAMES
from flows.htx import pages
from flows.htx.finding import FOUND_BY, describe, press
from flows.htx.locators import ELEMENTS
from flows.htx.login import GA_REJECTED
from flows.htx.overrides import SITE_FILE_NAME, text_line
from flows.htx.suggest import closest_texts
from htx_keys.app.checks import (
    ANSWER_TIMEOUT_MS,
    CAPTCHA_TIMEOUT_S,
    NAV_TIMEOUT_MS,
    NEEDS_LOGIN,
    NOTE,
    PAGES_FILE,
    Check,
)
from htx_keys.app.doctor_targets import (
    ACCOUNT_BUTTON,
    API_PAGE,
    CREATE_BUTTON,
    DELETE_BUTTON,
    DELETE_DIALOG,
    DELETE_ROOT,
    DIALOG,
    DIALOG_ROOT,
    LOGIN_FORM,
    LOGIN_GA,
    MENU_ITEM,
    NOTE_BOX,
    TARGETS,
    Target,
)
from htx_keys.app.preflight import has_display, site_file_path


class SiteChecks:
    """Walks the site as the flow would, one row per locator; stops short of Send."""

    def __init__(self, base_url: str, timeout_ms: float, reporter: Reporter, headed: bool) -> None:
        self.page: Page | None = None
        self.base_url = base_url
        self.timeout_ms = timeout_ms
        self.reporter = reporter
        self.headed = headed
        self.rows: list[Check] = []
        self.site_file: Path | None = None  # where an override line goes

    @property
    def p(self) -> Page:
        assert self.page is not None
        return self.page

    def locate(self, target: Target) -> bool:
        """Exactly one element, and it is visible: what the flow's strict locators need."""
        done = [r for r in self.rows if r.check == target.name]
        if done:  # already looked at (the login form, before a saved session was tried)
            return done[0].result == "pass"
        locator = target.locator(self.p)
        try:
            locator.filter(visible=True).first.wait_for(state="visible", timeout=self.timeout_ms)
            # Looked for again now that it shows: the way that finds it, as the flow will.
            count = target.locator(self.p).count()
        except PlaywrightTimeout:
            fix = self._override(target) or (
                f"HTX changed this label: update {target.constant} in {PAGES_FILE}"
            )
            fix += f" (or {target.also}, around it)" if target.also else ""
            detail = f"not found on {self.p.url} within {self.timeout_ms / 1000:g} s"
            self.rows.append(Check(target.name, "FAIL", detail, fix))
            return False
        if count != 1:
            detail = f"{count} elements match on {self.p.url}; the flow needs exactly one"
            fix = f"narrow {target.element} in {PAGES_FILE} (exact=True, a scope)"
            self.rows.append(Check(target.name, "FAIL", detail, fix))
            return False
        self.rows.append(self._found(target))
        return True

    def _found(self, target: Target) -> Check:
        """A pass; when only a fallback way found the element, the row says which, and what
        to update: the flow copes, but HTX has probably changed the element."""
        index = FOUND_BY.get(target.element, 0)
        if index == 0:
            return Check(target.name, "pass")
        args = {"perm": target.args[0]} if target.attribute == "permission_box" else {}
        element = ELEMENTS[target.element]
        detail = (
            f"found by its fallback {describe(element[index], **args)}, not by "
            f"{describe(element[0], **args)}"
        )
        fix = self._override(target, found_by_fallback=True) or (
            f"HTX may have changed this label: update {target.constant} in {PAGES_FILE}"
        )
        return Check(target.name, "pass", detail, fix)

    def _override(self, target: Target, found_by_fallback: bool = False) -> str:
        """The line that fixes a renamed text, from what the page shows closest to it: ''
        when nothing on the page is close enough to be sure."""
        expected = target.value()
        if expected.endswith("…"):  # a pattern (T_SEND): no one line to suggest
            return ""
        near = target.locator(self.p).first if found_by_fallback else None
        found = closest_texts(self.p, expected, near)
        if not found:
            return ""
        where = self.site_file or SITE_FILE_NAME
        line = text_line(target.text, found[0])
        others = ", ".join(repr(t) for t in found[1:])
        also = f" (also close on the page: {others})" if others else ""
        return f"HTX shows {found[0]!r}: put this line under [texts] in {where}: {line}{also}"

    def locate_all(self, targets: Sequence[Target]) -> bool:
        return all([self.locate(t) for t in targets])  # a list: a row for each, not the first miss

    def skip(self, targets: Sequence[Target], why: str) -> None:
        self.rows.extend(Check(t.name, "skip", why) for t in targets)

    def open_login(self) -> None:
        # Home as the way back, as provision does: the header's menu is then what leads on.
        self.p.goto(f"{self.base_url}{pages.LOGIN_PATH}?backUrl=/en-us/")
        self.locate_all(LOGIN_FORM)

    def resume_session(self) -> bool:
        """With a saved session: signed in when API Management opens without the login page."""
        self.p.goto(f"{self.base_url}{pages.APIKEY_PATH}")
        if pages.LOGIN_PATH in self.p.url:
            self.reporter.info("the saved session has expired; logging in")
            return False
        self.skip(LOGIN_GA, "not needed: signed in with the saved session")
        self.rows.append(Check("login", "pass", "signed in with the saved session"))
        return True

    def login(self, email: str, password: str, totp: Totp | None) -> bool:
        """Log in with password and a GA code; the login row says how it went."""
        if pages.LOGIN_PATH not in self.p.url:
            self.open_login()
        if not all(self.locate(t) for t in LOGIN_FORM):
            self.skip(LOGIN_GA, NEEDS_LOGIN)
            return self._login_failed("the login form is not as expected", "see the rows above")
        if totp is None or not (email and password):
            self.skip(LOGIN_GA, NEEDS_LOGIN)
            names = ", ".join(ENV_NAMES[n] for n in ("email", "password", "totp_secret"))
            self.rows.append(Check("login", "skip", f"needs {names} (a valid seed)"))
            return False
        login = pages.LoginPage(self.p)
        login.submit_password(email, password)
        outcome = self._after_password(login)
        if outcome != "ga":
            if outcome:
                self.skip(LOGIN_GA, NEEDS_LOGIN)
            else:  # a renamed GA box looks like this: its row says so
                self.locate_all(LOGIN_GA)
            if outcome == "captcha":
                fix = "run `htx-keys login --headed` once, or the doctor with --headed"
                return self._login_failed("HTX shows a slider captcha", fix)
            if outcome:
                return self._login_failed(f"the site refused the login: {outcome}")
            return self._login_failed("after Log In neither the GA step nor an error appeared", "")
        if not self.locate_all(LOGIN_GA):
            return self._login_failed("the GA step is not as expected", "see the rows above")
        error = self._submit_ga(login, totp)
        if error and GA_REJECTED in error:  # used elsewhere in its window: take the next one
            totp.mark_rejected()
            error = self._submit_ga(login, totp)
        if error == "new device":
            fix = "run `htx-keys login` once; the doctor then uses the saved session"
            return self._login_failed("HTX asks to confirm this browser by email", fix)
        if error:
            fix = f"check {ENV_NAMES['totp_secret']} and the clock"
            return self._login_failed(f"the site refused the GA code: {error}", fix)
        self.rows.append(Check("login", "pass", f"logged in as {email}"))
        return True

    def _login_failed(self, detail: str, fix: str | None = None) -> bool:
        if fix is None:
            fix = f"check {ENV_NAMES['email']} and {ENV_NAMES['password']}"
        self.rows.append(Check("login", "FAIL", detail, fix or "run with --headed to see the page"))
        return False

    def _after_password(self, login: pages.LoginPage) -> str | None:
        """'ga', 'captcha', the error shown, or None when the page showed none of them."""
        try:
            login.ga_box.or_(login.captcha).or_(login.alert).first.wait_for(
                timeout=ANSWER_TIMEOUT_MS
            )
        except PlaywrightTimeout:
            return None
        if login.captcha.count() and login.captcha.first.is_visible() and self.headed:
            # The tool never solves a captcha; a person at the window may (as `login` allows).
            self.reporter.info(f"solve the captcha in the browser ({CAPTCHA_TIMEOUT_S:.0f} s)")
            with contextlib.suppress(PlaywrightTimeout):
                login.ga_box.first.wait_for(timeout=CAPTCHA_TIMEOUT_S * 1000)
        if login.ga_box.first.is_visible():
            return "ga"
        if login.captcha.count() and login.captcha.first.is_visible():
            return "captcha"
        return login.alert.first.inner_text().strip() or "an empty error"

    def _submit_ga(self, login: pages.LoginPage, totp: Totp) -> str | None:
        """None once the page leaves the login page; "new device", or the error shown."""
        login.submit_ga(totp.next_code())
        new_device = pages.NewDeviceStep(self.p).heading
        # Leaving the login page, not the Account button, tells a login: that button is itself
        # under test, and a renamed one must not pass for a refused login.
        deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            if pages.LOGIN_PATH not in self.p.url:
                self.p.wait_for_load_state()
                return None
            if new_device.count() and new_device.first.is_visible():
                return "new device"  # answering it would send a mail: not the doctor's to do
            if login.alert.count() and login.alert.first.is_visible():
                return login.alert.first.inner_text().strip()
            self.p.wait_for_timeout(100)
        return "no answer (a changed page?)"

    def api_management(self) -> None:
        header, opened = pages.Header(self.p), False
        if self.locate(ACCOUNT_BUTTON):
            press(header.account_button, "the Account button")
            if self.locate(MENU_ITEM):
                press(header.api_management_item, "the API Management menu item")
                with contextlib.suppress(PlaywrightTimeout):
                    self.p.wait_for_url(re.compile(re.escape(pages.APIKEY_PATH)))
                    opened = True
        else:
            self.skip([MENU_ITEM], "needs the Account button")
        if not opened:  # the page itself can still be checked
            self.p.goto(f"{self.base_url}{pages.APIKEY_PATH}")
        self.locate_all(API_PAGE)
        if self.locate(NOTE_BOX) and self.locate(CREATE_BUTTON):
            self.security_dialog()
        else:
            self.skip([DIALOG_ROOT, *DIALOG], "needs the note box and the Create button")
        self.delete_dialog()

    def delete_dialog(self) -> None:
        """The first key's Delete and its confirmation, left with Cancel: nothing is deleted."""
        rows = []
        if self.locate(API_PAGE[-1]):
            try:
                rows = pages.ApiManagementPage(self.p).rows(ANSWER_TIMEOUT_MS)
            except SiteError as exc:
                self.rows.append(Check("API Management: key list", "FAIL", exc.message))
        if not rows:
            self.skip([DELETE_BUTTON, DELETE_ROOT, *DELETE_DIALOG], "needs a key in the list")
            return
        button = replace(DELETE_BUTTON, args=(rows[0].access_key,))
        if not self.locate(button):
            self.skip([DELETE_ROOT, *DELETE_DIALOG], "needs the Delete button")
            return
        press(button.locator(self.p), "the Delete button")
        if not self.locate(DELETE_ROOT):
            self.skip(DELETE_DIALOG, "needs the Delete API Key dialog")
            self.p.keyboard.press("Escape")
            return
        self.locate_all(DELETE_DIALOG)
        dialog = pages.DeleteDialog(self.p)
        if dialog.cancel_button.count() == 1:
            press(dialog.cancel_button, "the Cancel button")
        else:
            self.p.keyboard.press("Escape")
        try:
            dialog.root.wait_for(state="hidden", timeout=ANSWER_TIMEOUT_MS)
        except PlaywrightTimeout:
            closing = "Delete API Key: closing"
            self.rows.append(Check(closing, "FAIL", "the dialog stayed open after Cancel"))

    def security_dialog(self) -> None:
        api, dialog = pages.ApiManagementPage(self.p), pages.SecurityDialog(self.p)
        api.note_box.fill(NOTE)
        press(
            api.create_button, "the Create button"
        )  # only the precheck: a key needs Send and Confirm too
        with contextlib.suppress(PlaywrightTimeout):  # a missing dialog has its own row
            dialog.root.or_(api.form_errors).first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        if not dialog.root.is_visible() and api.form_errors.count():
            errors = "; ".join(t.strip() for t in api.form_errors.all_inner_texts())
            fix = "see the message (at 20 keys, delete one you do not use)"
            self.rows.append(
                Check(DIALOG_ROOT.name, "FAIL", f"HTX refused the form: {errors}", fix)
            )
            self.skip(DIALOG, "needs the Security Authentication dialog")
            return
        if not self.locate(DIALOG_ROOT):
            self.skip(DIALOG, "needs the Security Authentication dialog")
            return
        self.locate_all(DIALOG)
        if self.locate(DIALOG[-1]):
            press(dialog.cancel_button, "the Cancel button")
        else:
            self.p.keyboard.press("Escape")  # the dialog's other way out; nothing was sent
        try:
            dialog.root.wait_for(state="hidden", timeout=ANSWER_TIMEOUT_MS)
        except PlaywrightTimeout:
            closing = "Security Authentication: closing"
            self.rows.append(Check(closing, "FAIL", "the dialog stayed open after Cancel"))


def check_site(
    settings: Settings,
    totp: Totp | None,
    saved: dict[str, Any] | None,
    *,
    headed: bool,
    timeout_s: float,
    reporter: Reporter,
) -> list[Check]:
    try:
        choice = choose_browser(
            settings.browser,
            cdp_endpoint=settings.cdp_endpoint,
            ws_endpoint=settings.ws_endpoint,
            channel=settings.browser_channel,
        )
        if headed and not choice.remote and not has_display():
            raise ConfigError("--headed needs a display: run it on a desktop or under xvfb-run")
    except HtxKeysError as exc:
        browser = Check("browser", "FAIL", exc.message, exc.hint or "")
        return [browser, *(Check(t.name, "skip", "needs a browser") for t in TARGETS)]
    rows = [Check("browser", "pass", choice.description)]
    site = SiteChecks(settings.base_url, timeout_s * 1000, reporter, headed)
    site.site_file = site_file_path(settings)[0]
    options = BrowserOptions(choice, headed=headed, timeout_ms=NAV_TIMEOUT_MS)
    email, password = settings.email or "", settings.password or ""
    try:
        if saved is not None:  # the login form is for a browser without the session
            with open_page(options) as page:
                site.page = page
                site.open_login()
            options.storage_state = saved
        with open_page(options) as page:
            site.page = page
            if (saved is not None and site.resume_session()) or site.login(email, password, totp):
                site.api_management()
    except HtxKeysError as exc:  # the browser would not start
        rows[0] = Check("browser", "FAIL", exc.message, exc.hint or "")
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        site.rows.append(Check("site", "FAIL", first, f"check that {settings.base_url} answers"))
    seen = {r.check for r in site.rows}
    why = NEEDS_LOGIN if "login" in seen else "the site was not reached"
    rest = [Check(t.name, "skip", why) for t in TARGETS if t.name not in seen]
    return [*rows, *site.rows, *rest]
