"""The sandbox in real Chromium, driven through the accessible names its README promises."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from sandbox.accounts import Account, demo_account
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.server import SandboxServer
from sandbox.state import KeyRequest
from tests.support.ga import SHORT_TOTP_STEP_S, Authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.cost(15)]

KEY_FORMAT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{5}$")
CODE_IN_TEXT = re.compile(r"verification code is (\d{6})")
SHOT = Path("/tmp/sandbox-shot.png")


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxServer, Account]]:
    account = demo_account()
    # Keep the default latency: dialogs must be waited for, as on the live site.
    config = SandboxConfig([account], faults=Faults(), totp_step_s=SHORT_TOTP_STEP_S)
    with SandboxServer(config) as srv:
        yield srv, account


def newest_code(srv: SandboxServer, count_before: int) -> str:
    deadline = time.monotonic() + 15
    while len(srv.state.outbox) <= count_before and time.monotonic() < deadline:
        time.sleep(0.1)
    _rcpt, msg = srv.state.outbox[-1]
    body = msg.get_body(("plain",))
    assert body is not None
    match = CODE_IN_TEXT.search(body.get_content())
    assert match
    return match.group(1)


def dismiss_first_visit(page: Page) -> None:
    """A first visit: the announcement covers the page, the cookie banner its bottom."""
    notice = page.get_by_role("dialog", name="Announcement")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="I Understand").click()
    expect(notice).to_have_count(0)
    banner = page.get_by_role("region", name="Cookie consent")
    banner.get_by_role("button", name="Accept All").click()
    expect(banner).to_have_count(0)


def log_in(page: Page, srv: SandboxServer, account: Account, ga: Authenticator) -> None:
    page.goto(f"{srv.base_url}/en-us/")
    dismiss_first_visit(page)
    page.get_by_role("link", name="Log In").click()
    # Dismissed for good: the cookies remember it on the next page.
    expect(page.get_by_role("region", name="Cookie consent")).to_have_count(0)
    expect(page.get_by_role("heading", name="Log In")).to_be_visible()
    page.get_by_label("Email/Phone Number").fill(account.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log In").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect account or password")
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log In").click()
    expect(page.get_by_role("heading", name="Security Verification")).to_be_visible()
    code = page.get_by_role("textbox", name="Google Authenticator code")
    expect(code).to_have_attribute("maxlength", "6")
    code.fill(ga.code())
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{srv.base_url}/en-us/")


def open_api_management(page: Page) -> None:
    page.get_by_role("button", name="Account").click()
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    menu.get_by_role("menuitem", name="API Management").click()
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()
    # The table is drawn from the list call, after the page: "Loading..." until it answers.
    expect(page.get_by_role("table", name="API Keys").locator("tbody")).not_to_have_attribute(
        "aria-busy", "true"
    )


def authenticate(
    page: Page,
    srv: SandboxServer,
    ga: Authenticator,
    *,
    shot: bool = False,
    try_wrong_code: bool = False,
) -> None:
    dialog = page.get_by_role("dialog", name="Security Authentication")
    expect(dialog).to_be_visible()
    email_code = dialog.get_by_role("textbox", name="Email verification code")
    expect(email_code).to_be_focused()
    before = len(srv.state.outbox)
    dialog.get_by_role("button", name="Send").click()
    expect(dialog.get_by_role("button", name=re.compile(r"^Resend \(\d+s\)$"))).to_be_disabled()
    expect(dialog).to_contain_text("The code has been sent to de***@example.test")
    code = newest_code(srv, before)
    if shot:
        page.screenshot(path=str(SHOT))
    gacode = ga.code()
    if try_wrong_code:
        email_code.fill(f"{(int(code) + 1) % 10**6:06d}")
        dialog.get_by_role("textbox", name="Google Authenticator code").fill(gacode)
        dialog.get_by_role("button", name="Confirm").click()
        expect(dialog.get_by_role("alert")).to_have_text("Incorrect email verification code")
        expect(email_code).to_be_focused()
    email_code.fill(code)
    dialog.get_by_role("textbox", name="Google Authenticator code").fill(gacode)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_be_hidden()


def test_create_key_through_the_ui(page: Page, sandbox: tuple[SandboxServer, Account]) -> None:
    srv, account = sandbox
    ga = Authenticator(account.totp_secret, SHORT_TOTP_STEP_S)
    log_in(page, srv, account, ga)
    open_api_management(page)

    table = page.get_by_role("table", name="API Keys")
    expect(table.get_by_role("row", name="No data")).to_be_visible()
    form = page.get_by_role("form", name="Create API Key")
    form.get_by_role("textbox", name="Note").fill("trading bot")
    read_only = form.get_by_role("group", name="Permission settings").get_by_role(
        "checkbox", name="Read-only"
    )
    expect(read_only).to_be_checked()
    expect(read_only).to_be_disabled()
    form.get_by_role("checkbox", name="Trade").check()
    ips = form.get_by_label("Link IP Address (optional)")
    ips.fill("192.168.0.1/24, 300.1.1.1")
    form.get_by_role("button", name="Create").click()
    expect(form.get_by_role("alert")).to_have_text("Invalid IP address: 300.1.1.1")
    toast = page.get_by_role("status").filter(has_text="Invalid IP address: 300.1.1.1")
    expect(toast).to_be_visible()  # as a toast too, which goes by itself
    expect(toast).to_have_count(0)
    expect(page.get_by_role("dialog")).to_have_count(0)

    ips.fill("192.168.0.1/24, 10.0.0.7")
    form.get_by_role("button", name="Create").click()
    expect(form.get_by_role("alert")).to_have_count(0)
    authenticate(page, srv, ga, shot=True, try_wrong_code=True)

    created = page.get_by_role("dialog", name="Successfully Created")
    expect(created).to_be_visible()
    access = created.get_by_role("textbox", name="Access Key").input_value()
    secret = created.get_by_label("Secret Key").input_value()
    assert KEY_FORMAT.match(access) and KEY_FORMAT.match(secret)
    expect(created).to_contain_text("The Secret Key is only shown this once.")
    (key,) = srv.state.keys_for(account.email)
    assert (key.access_key, key.secret_key) == (access, secret)
    assert key.ip_addresses == ("192.168.0.0/24", "10.0.0.7")
    created.get_by_role("button", name="Confirm").click()

    row = table.get_by_role("row").filter(has_text=access)
    expect(row).to_be_visible()
    expect(row).to_contain_text("trading bot")
    expect(row).to_contain_text("Read-only, Trade")
    expect(row).to_contain_text("Permanent")
    expect(row).to_contain_text("Normal")
    assert secret not in page.content()


def test_delete_key_through_the_ui(page: Page, sandbox: tuple[SandboxServer, Account]) -> None:
    srv, account = sandbox
    key = srv.state.add_key(account, KeyRequest("old key", ("read",), ()))
    ga = Authenticator(account.totp_secret, SHORT_TOTP_STEP_S)
    log_in(page, srv, account, ga)
    srv.config.faults.list_delay_s = 1.0  # the table shows its loading state meanwhile
    page.get_by_role("button", name="Account").click()
    page.get_by_role("menuitem", name="API Management").click()
    expect(page.get_by_role("table", name="API Keys")).to_contain_text("Loading...")
    srv.config.faults.list_delay_s = 0
    open_api_management(page)
    row = (
        page.get_by_role("table", name="API Keys")
        .get_by_role("row")
        .filter(has_text=key.access_key)
    )
    expect(row).to_contain_text("Permanent")  # read-only without IPs: HTX does not expire it
    row.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete API Key")
    expect(confirm).to_contain_text("old key")
    confirm.get_by_role("button", name="Confirm").click()
    authenticate(page, srv, ga)
    expect(page.get_by_role("row", name="No data")).to_be_visible()
    assert srv.state.keys_for(account.email) == []


def test_the_theme_switch_and_the_browser_preference(
    sandbox: tuple[SandboxServer, Account], page: Page
) -> None:
    """The pages follow prefers-color-scheme until the top bar's switch is used; the switch's
    choice is remembered across pages and wins over the browser's preference."""
    srv, _account = sandbox
    background = "() => getComputedStyle(document.body).backgroundColor"
    page.emulate_media(color_scheme="light")
    page.goto(f"{srv.base_url}/en-us/login/")
    dismiss_first_visit(page)
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate(background)
    assert light == "rgb(244, 246, 250)" and dark == "rgb(15, 19, 27)"
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Switch to the dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"{srv.base_url}/en-us/")
    assert page.evaluate(background) == dark  # the cookie, over the browser's "light"
    page.get_by_role("button", name="Switch to the light theme").click()
    assert page.evaluate(background) == light
