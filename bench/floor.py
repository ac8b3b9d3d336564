"""The floor: a plain hand-written Playwright script that makes one HTX API key, no project code.

It does what a person who knows the site would write in an afternoon, and nothing more: log in
(password, then a Google Authenticator code) straight back to API Management, or start there
with a saved session (Playwright's storage state); fill in the note, Trade, the IP whitelist;
Create; note where the mailbox ends and enter IMAP IDLE, press Send, take the code the moment
the mail lands; a fresh GA code; Confirm; read the Access Key and Secret Key; close the dialog
and see the key in the list. It handles none of what can go wrong.

bench/against_floor.py runs it against the replica, alternating with the tool. Settings come
from the environment, as the tool's do: HTX_BASE_URL, HTX_EMAIL, HTX_PASSWORD,
HTX_TOTP_SECRET, HTX_TOTP_PERIOD, HTX_IMAP_HOST, HTX_IMAP_PORT, HTX_IMAP_USER,
HTX_IMAP_PASSWORD, HTX_IMAP_CA_FILE (STARTTLS), HTX_KEYS_BROWSER (a Chromium binary, optional).
Arguments: NOTE [--state PATH] [--save-state PATH]. It prints one JSON line: the seconds spent
waiting for a fresh GA window, Send -> code in hand, and the access key (never the secret).
"""

from __future__ import annotations

import argparse
import email
import json
import os
import re
import select
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
from imapclient import IMAPClient
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


class Ga:
    """GA codes, each from a time step not used before in this run, with a moment left."""

    def __init__(self, secret: str, period: int) -> None:
        self.totp = pyotp.TOTP(secret, interval=period)
        self.period = period
        self.last = -1
        self.waited = 0.0

    def code(self) -> str:
        while True:
            now = time.time()
            step = int(now // self.period)
            left = (step + 1) * self.period - now
            if step > self.last and left >= self.period * 0.1:
                self.last = step
                return self.totp.at(step * self.period)
            until = (max(step, self.last) + 1) * self.period - now
            time.sleep(until)
            self.waited += until


def mail_code(imap: IMAPClient, uidnext: int, timeout: float = 60.0) -> str:
    """The code of the first mail at or after `uidnext`; the connection is in IDLE."""
    deadline = time.monotonic() + timeout
    sock = imap.socket()
    while time.monotonic() < deadline:
        # Whole lines only: imapclient's idle_check reads without blocking and can lose half a
        # line, which the embedded server (pymap) sends at times; idle_done then fails.
        if select.select([sock], [], [], 0.5)[0] and b"EXISTS" in imap._imap._get_line():
            break
    imap.idle_done()
    uids = [u for u in imap.search(["UID", f"{uidnext}:*"]) if u >= uidnext]
    body = imap.fetch(uids[-1:], ["BODY.PEEK[]"])[uids[-1]][b"BODY[]"]
    message = email.message_from_bytes(body)
    text = " ".join(
        bytes(part.get_payload(decode=True)).decode(errors="replace")
        for part in message.walk()
        if part.get_content_type() == "text/plain"
    )
    match = CODE.search(text)
    if match is None:
        raise SystemExit("no code in the mail")
    return match.group(0)


def connect(env: os._Environ[str]) -> IMAPClient:
    context = ssl.create_default_context(cafile=env["HTX_IMAP_CA_FILE"])
    imap = IMAPClient(env["HTX_IMAP_HOST"], port=int(env["HTX_IMAP_PORT"]), ssl=False)
    imap.starttls(context)
    imap.login(env["HTX_IMAP_USER"], env["HTX_IMAP_PASSWORD"])
    return imap


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("note")
    parser.add_argument("--state", help="a saved session (Playwright storage state) to start with")
    parser.add_argument("--save-state", help="where to save the session after logging in")
    args = parser.parse_args()
    env = os.environ
    base = env["HTX_BASE_URL"]
    ga = Ga(env["HTX_TOTP_SECRET"], int(env.get("HTX_TOTP_PERIOD", "30")))

    # The mailbox's connection is made while the browser starts.
    with ThreadPoolExecutor(1) as pool, sync_playwright() as p:
        connecting = pool.submit(connect, env)
        launched = p.chromium.launch(executable_path=env.get("HTX_KEYS_BROWSER") or None)
        browser = launched.new_context(storage_state=args.state)
        page = browser.new_page()
        # First-visit overlays (an announcement, the cookie banner): closed when they get in
        # the way, as a person would.
        notice = page.get_by_role("dialog", name="Announcement")
        banner = page.get_by_role("region", name="Cookie consent")

        def dismiss() -> None:
            # The announcement comes a moment after the page and covers the banner: it first.
            # A click that something new blocks is left; the handler runs again when needed.
            for button in (
                notice.get_by_role("button"),
                banner.get_by_role("button", name="Accept All"),
            ):
                try:
                    if button.is_visible():
                        button.click(timeout=1000)
                except PlaywrightError:
                    pass

        page.add_locator_handler(notice.or_(banner).first, dismiss, no_wait_after=True)
        imap = connecting.result()

        if args.state:
            page.goto(f"{base}/en-us/apikey/")
        else:
            page.goto(f"{base}/en-us/login/?backUrl=/en-us/apikey/")
            page.get_by_label("Email/Phone Number").fill(env["HTX_EMAIL"])
            page.get_by_label("Password", exact=True).fill(env["HTX_PASSWORD"])
            page.get_by_role("button", name="Log In", exact=True).click()
            page.get_by_label("Google Authenticator code").fill(ga.code())
            page.get_by_role("button", name="Confirm").click()
        page.get_by_role("heading", name="API Management").wait_for()

        page.get_by_label("Note", exact=True).fill(args.note)
        page.get_by_label("Trade").check()
        page.get_by_label("Link IP Address (optional)").fill("203.0.113.7")
        page.get_by_role("button", name="Create", exact=True).click()
        dialog = page.get_by_role("dialog", name="Security Authentication")
        send = dialog.get_by_role("button", name="Send", exact=True)
        send.wait_for()

        uidnext = imap.select_folder("INBOX", readonly=True)[b"UIDNEXT"]
        imap.idle()
        sent = time.monotonic()
        send.click()
        code = mail_code(imap, uidnext)
        send_to_code = time.monotonic() - sent
        dialog.get_by_label("Email verification code").fill(code)
        dialog.get_by_label("Google Authenticator code").fill(ga.code())
        dialog.get_by_role("button", name="Confirm").click()

        created = page.get_by_role("dialog", name="Successfully Created")
        access_key = created.get_by_label("Access Key", exact=True).input_value()
        secret_key = created.get_by_label("Secret Key", exact=True).input_value()
        assert access_key and secret_key
        created.get_by_role("button", name="Confirm").click()
        page.get_by_role("row").filter(has_text=access_key).wait_for()
        if args.save_state:
            browser.storage_state(path=args.save_state)
        imap.logout()
        launched.close()
    out = {"ga_wait": ga.waited, "send_to_code": send_to_code, "access_key": access_key}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
