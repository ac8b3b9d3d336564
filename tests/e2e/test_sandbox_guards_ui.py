"""The sandbox's login guards in real Chromium, through the names its README promises:
slider captcha, new-device step, SMS row of Security Authentication, expired sessions."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from sandbox import texts
from sandbox.accounts import Account, demo_account
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.server import SandboxServer
from tests.support.ga import SHORT_TOTP_STEP_S, Authenticator

pytestmark = [pytest.mark.e2e, pytest.mark.cost(15)]

CODE_IN_TEXT = re.compile(r"verification code is (\d{6})")
SEND_OR_RESEND = re.compile(r"^Send$|^Resend")


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start a sandbox with the given guard settings; the default latency is kept small but
    non-zero so that every step must still be waited for."""
    with ExitStack() as stack:

        def start(account: Account, **config: Any) -> SandboxServer:
            config.setdefault("totp_step_s", SHORT_TOTP_STEP_S)
            cfg = SandboxConfig([account], faults=Faults(latency_ms=60), **config)
            return stack.enter_context(SandboxServer(cfg))

        yield start


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


def newest_sms(srv: SandboxServer, count_before: int) -> tuple[str, str]:
    deadline = time.monotonic() + 15
    while len(srv.state.sms_outbox) <= count_before and time.monotonic() < deadline:
        time.sleep(0.1)
    phone, code, _sent_at = srv.state.sms_outbox[-1]
    return phone, code


def returning_visitor(page: Page, srv: SandboxServer) -> None:
    """The cookie banner and the announcement were dismissed before (test_sandbox_ui.py
    dismisses them): these tests are about the login guards."""
    page.context.add_cookies(
        [
            {"name": name, "value": "1", "url": srv.base_url}
            for name in (texts.CONSENT_COOKIE, texts.NOTICE_COOKIE)
        ]
    )


def enter_password(page: Page, srv: SandboxServer, account: Account, back: str = "/") -> None:
    returning_visitor(page, srv)
    page.goto(f"{srv.base_url}/en-us/login/?backUrl={back}")
    page.get_by_label("Email/Phone Number").fill(account.email)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log In").click()


def enter_ga(page: Page, ga: Authenticator) -> None:
    expect(page.get_by_role("heading", name="Security Verification")).to_be_visible()
    page.get_by_role("textbox", name="Google Authenticator code").fill(ga.code())
    page.get_by_role("button", name="Confirm").click()


def drag_slider(page: Page, *, moves: int, pause_ms: int) -> None:
    """Press the handle, move right past the end of the track in `moves` steps, let go."""
    handle = page.get_by_role("slider", name="Slide to verify")
    track = page.locator("#captcha-track").bounding_box()
    assert track is not None
    # After a failed drag the handle slides back; a person waits until it is home.
    deadline = time.monotonic() + 5
    while True:
        box = handle.bounding_box()
        assert box is not None
        if box["x"] - track["x"] < 2 or time.monotonic() > deadline:
            break
        page.wait_for_timeout(50)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    end = track["x"] + track["width"] + 10
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, moves + 1):
        # A hand wobbles a little; the page only cares about the horizontal distance.
        page.mouse.move(x + (end - x) * i / moves, y + (i % 3) - 1)
        if pause_ms:
            page.wait_for_timeout(pause_ms)
    page.mouse.up()


def test_slider_captcha_then_ga(page: Page, start_sandbox: Callable[..., SandboxServer]) -> None:
    account = demo_account()
    srv = start_sandbox(account, captcha="always")
    ga = Authenticator(account.totp_secret, SHORT_TOTP_STEP_S)
    enter_password(page, srv, account)

    group = page.get_by_role("group", name="Slider verification")
    expect(group).to_be_visible()
    expect(group).to_contain_text("Please slide to verify")
    slider = group.get_by_role("slider", name="Slide to verify")
    expect(slider).to_have_attribute("aria-valuemin", "0")
    expect(slider).to_have_attribute("aria-valuemax", "100")
    expect(slider).to_have_attribute("aria-valuenow", "0")

    # Keys do not move it: a bot check a script could pass by pressing End checks nothing.
    slider.focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowRight")
    expect(slider).to_have_attribute("aria-valuenow", "0")

    # A script's jump: one move straight to the end.
    drag_slider(page, moves=1, pause_ms=0)
    expect(group.get_by_role("alert")).to_have_text("Verification failed, please try again")
    expect(slider).to_have_attribute("aria-valuenow", "0")
    expect(page.get_by_role("heading", name="Security Verification")).to_be_hidden()

    # A hand's drag: many small moves over well above 300 ms; the page carries on by itself.
    drag_slider(page, moves=12, pause_ms=50)
    enter_ga(page, ga)
    expect(page).to_have_url(f"{srv.base_url}/en-us/")
    expect(page.get_by_role("button", name="Account")).to_be_visible()


def test_new_device_step(page: Page, start_sandbox: Callable[..., SandboxServer]) -> None:
    account = demo_account()
    srv = start_sandbox(account, new_device_check=True)
    ga = Authenticator(account.totp_secret, SHORT_TOTP_STEP_S)
    enter_password(page, srv, account, back="/en-us/apikey/")
    enter_ga(page, ga)

    expect(page.get_by_role("heading", name="New Device Verification")).to_be_visible()
    # No session yet: that waits for this step.
    assert "HB-PRO-TOKEN" not in {c["name"] for c in page.context.cookies()}
    code_box = page.get_by_role("textbox", name="Email verification code")
    expect(code_box).to_be_focused()
    before = len(srv.state.outbox)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("button", name=re.compile(r"^Resend \(\d+s\)$"))).to_be_disabled()
    expect(page.get_by_text("The code has been sent to de***@example.test")).to_be_visible()
    code = newest_code(srv, before)
    assert srv.state.outbox[-1][1]["Subject"] == "[HTX] New device login verification"

    code_box.fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("alert")).to_have_text("Incorrect email verification code")
    code_box.fill(code)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()
    assert page.url == f"{srv.base_url}/en-us/apikey/"
    device = next(c["value"] for c in page.context.cookies() if c["name"] == "HB-DEVICE")
    assert srv.state.known_devices(account.email) == {device}


def test_sms_row_in_security_authentication(
    page: Page, start_sandbox: Callable[..., SandboxServer]
) -> None:
    base = demo_account()
    account = Account(
        email=base.email,
        password=base.password,
        totp_secret=base.totp_secret,
        uid=base.uid,
        mailbox=base.mailbox,
        auth_factors=("email", "sms", "ga"),
        phone="+86 13812345678",
    )
    srv = start_sandbox(account)
    ga = Authenticator(account.totp_secret, SHORT_TOTP_STEP_S)
    enter_password(page, srv, account, back="/en-us/apikey/")
    enter_ga(page, ga)
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()
    page.get_by_role("form", name="Create API Key").get_by_role("textbox", name="Note").fill("old")
    page.get_by_role("button", name="Create").click()

    dialog = page.get_by_role("dialog", name="Security Authentication")
    expect(dialog).to_be_visible()
    sms_box = dialog.get_by_role("textbox", name="SMS verification code")
    expect(sms_box).to_be_visible()
    mails, texts = len(srv.state.outbox), len(srv.state.sms_outbox)
    dialog.get_by_role("button", name=SEND_OR_RESEND).click()
    sms_button = dialog.get_by_role("button", name="Send SMS code", exact=True)
    sms_button.click()
    expect(dialog).to_contain_text("The SMS code has been sent to +86 138****5678")
    # The SMS button counts down too but keeps its name: the email button stays the only
    # one named Send / Resend.
    expect(sms_button).to_have_text(re.compile(r"^Resend \(\d+s\)$"))
    expect(sms_button).to_be_disabled()
    expect(dialog.get_by_role("button", name=SEND_OR_RESEND)).to_have_count(1)
    email_code = newest_code(srv, mails)
    phone, sms_code = newest_sms(srv, texts)
    assert phone == "+86 13812345678"

    dialog.get_by_role("textbox", name="Email verification code").fill(email_code)
    sms_box.fill(f"{(int(sms_code) + 1) % 10**6:06d}")
    gacode = ga.code()
    dialog.get_by_role("textbox", name="Google Authenticator code").fill(gacode)
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_role("alert")).to_have_text("Incorrect SMS verification code")
    expect(sms_box).to_be_focused()
    sms_box.fill(sms_code)
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("dialog", name="Successfully Created")).to_be_visible()
    assert len(srv.state.keys_for(account.email)) == 1


def test_expired_session_goes_to_the_login_page(
    page: Page, start_sandbox: Callable[..., SandboxServer]
) -> None:
    account = demo_account()
    srv = start_sandbox(account)
    ga = Authenticator(account.totp_secret, SHORT_TOTP_STEP_S)
    enter_password(page, srv, account, back="/en-us/apikey/")
    enter_ga(page, ga)
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()
    # The page fetches its key list after it loads: expired before that answer, the page
    # would leave for the login page on its own, before the click this test makes.
    expect(page.get_by_text("No data")).to_be_visible()

    assert srv.state.expire_sessions(account.email) == 1
    # A call from the open page answers 401 and the page sends the browser to log in ...
    page.get_by_role("form", name="Create API Key").get_by_role("textbox", name="Note").fill("x")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Log In")).to_be_visible()
    assert page.url == f"{srv.base_url}/en-us/login/?backUrl=/en-us/apikey/"
    # ... and so does loading a page.
    page.goto(f"{srv.base_url}/en-us/apikey/")
    expect(page.get_by_role("heading", name="Log In")).to_be_visible()
    assert page.url == f"{srv.base_url}/en-us/login/?backUrl=/en-us/apikey/"
