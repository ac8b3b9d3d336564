"""What the HTX steps share while they run: the page, the account, codes, and the person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page

from automation.code_command import CodeSource
from automation.http_watch import HttpWatch
from automation.otp import Totp
from automation.runner import Reporter
from automation.store import KeyRecord, Store
from flows.htx.limits import KeyRequest


@dataclass(kw_only=True)
class SiteContext:
    page: Page
    base_url: str
    email: str
    password: str = field(repr=False)
    totp: Totp
    inbox: CodeSource  # email codes: the IMAP mailbox, or the code command
    reporter: Reporter
    mail_timeout: float = 120.0
    timeout_ms: float = 30_000
    # A person can see the browser and answer at the terminal (headed runs): captchas and SMS
    # codes are handed to them; without one, those stop the run with their own exit status.
    interactive: bool = False
    ask: Callable[[str], str | None] | None = None  # a hidden prompt at the terminal
    # SMS codes from the code command: the SMS step then needs no person.
    sms: CodeSource | None = None
    captcha_timeout_s: float = 180.0
    saved_session: bool = False  # the browser started with a saved login
    logged_in: bool = False
    session_renewed: bool = False  # a saved session had expired and a full login replaced it
    new_device: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    # The error answers (401, 429, 5xx) the site gave the page's calls: what a shown error was.
    http: HttpWatch | None = None


@dataclass(kw_only=True)
class ProvisionContext(SiteContext):
    request: KeyRequest
    store: Store
    rescue_dir: Path
    record: KeyRecord | None = None
    stored_in: str | None = None
    # Called with the pair the moment it is read, before it is stored (CI masks it then).
    on_key: Callable[[KeyRecord], None] | None = None
