"""Everything that can fail before a browser starts, checked first, in well under a second.

Order matters: the settings, the TOTP seed, the mail settings, the code command, the store
and which Chromium are checked here; the mailbox is opened next (app/provisioning.py: a wrong
IMAP password fails there, before anything is made), and only then does a browser start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.browser import BrowserChoice, choose_browser
from automation.code_command import CodeCommand
from automation.config import Settings
from automation.errors import ConfigError
from automation.mail_settings import MailSettings, check_settings, parse_senders
from automation.mailparse import is_address
from automation.modes import ArtifactModes
from automation.otp import Totp, validate_secret
from automation.runner import Reporter, StepHook
from automation.session import SessionStore
from automation.store import KeyRecord, Store, check_store
from flows.htx.limits import KeyRequest
from flows.htx.overrides import SITE_FILE_NAME, Overrides, apply_overrides, load_overrides
from htx_keys.app.code_sources import code_command_of, imap_in_use, without_unused

NEEDED = ("email", "totp_secret", "imap_host", "imap_password")  # + password without a session


@dataclass
class RunOptions:
    headed: bool = False  # a person sees the browser: captchas and SMS codes go to them
    timeout_ms: float = 30_000
    # Artifacts go to <artifacts_root>/<run-id>/ (default root: the state dir's runs/), or
    # straight into artifacts_dir when given (`record --out DIR`).
    artifacts_root: Path | None = None
    artifacts_dir: Path | None = None
    private_artifacts: bool = False  # artifacts_dir's files 0600, folders 0700 (a real account)
    artifacts: ArtifactModes = field(default_factory=ArtifactModes)
    chapter_ms: float = 1500.0  # how long each chapter card holds the video
    scale: float = 1.0  # device pixels per CSS pixel of pictures (`record --scale 2`)
    color_scheme: str | None = None  # the browser's prefers-color-scheme (`record --theme`)
    use_totp_state: bool = True  # remember used GA steps across runs (off for throwaway seeds)
    verify: bool = True  # check the new key with signed REST calls once it is stored
    hooks: Sequence[StepHook[Any]] = ()
    session: SessionStore | None = None  # where a saved login is read (and renewed)
    ask: Callable[[str], str | None] | None = None  # a hidden prompt for the person
    captcha_timeout_s: float = 180.0
    on_key: Callable[[KeyRecord], None] | None = None  # sees each new pair before it is stored


@dataclass
class Prepared:
    settings: Settings
    request: KeyRequest | None  # None: sign in only
    store: Store | None
    browser: BrowserChoice
    mail: MailSettings | None  # None: email codes come from the code command
    totp_secret: str = field(repr=False)
    saved_state: dict[str, Any] | None = field(default=None, repr=False)
    code_command: CodeCommand | None = None


def new_totp(secret: str, state_dir: Path | None, reporter: Reporter, period: int) -> Totp:
    """GA codes for one run; `state_dir` shares the used time steps with every other run.
    `period` is HTX's 30 s, or a test sandbox's shorter step (HTX_TOTP_PERIOD)."""
    return Totp(
        secret,
        period=period,
        state_dir=state_dir,
        on_wait=lambda s: reporter.waiting(
            s, "a fresh Google Authenticator code (each code works once)", counted=False
        ),
        on_sleep=reporter.count_wait,
    )


def needed_settings(settings: Settings, *, saved_session: bool) -> tuple[str, ...]:
    """The settings a browser run needs: the password only without a saved session, the
    IMAP password only for a password login (not OAuth2), the mailbox's only when email codes
    are read from it (app/code_sources.py)."""
    mail = NEEDED if settings.imap_auth == "password" else NEEDED[:-1]
    needed = (*mail, *(() if saved_session else ("password",)))
    return without_unused(settings, needed)


def mail_settings(settings: Settings) -> MailSettings:
    extra: dict[str, Any] = {}
    if settings.mail_from:
        extra["senders"] = parse_senders(settings.mail_from)
    if settings.mail_code_pattern:
        extra["code_pattern"] = settings.mail_code_pattern
    if settings.imap_auth != "password":
        from automation.mail_tokens import token_source

        extra.update(auth=settings.imap_auth, token_source=token_source(settings))
    host, user = settings.imap_host or "", settings.imap_user or settings.email or ""
    if settings.account and settings.accounts_file:
        # Named accounts that read one mailbox must tell each other's mail apart.
        from automation.accounts import mailbox_sharers

        sharers = mailbox_sharers(Path(settings.accounts_file), settings.account, host, user)
        extra["other_addresses"] = sharers
    return MailSettings(
        host=host,
        port=settings.imap_port,
        user=user,
        password=settings.imap_password or "",
        security=settings.imap_security,  # type: ignore[arg-type]
        ca_file=settings.imap_ca_file,
        account_address=settings.email if is_address(settings.email) else None,
        **extra,
    )


def prepare(
    settings: Settings,
    request: KeyRequest | None,
    store: Store | None,
    options: RunOptions | None = None,
) -> Prepared:
    """Everything that can fail before a browser starts, in well under a second."""
    options = options or RunOptions()
    saved = options.session.load() if options.session else None
    settings.require(*needed_settings(settings, saved_session=saved is not None))
    use_site_file(settings)
    secret = validate_secret(settings.totp_secret or "")
    mail = mail_settings(settings) if imap_in_use(settings) else None
    if mail is not None:
        check_settings(mail)
    command = code_command_of(settings)
    browser = choose_browser(
        settings.browser,
        cdp_endpoint=settings.cdp_endpoint,
        ws_endpoint=settings.ws_endpoint,
        channel=settings.browser_channel,
    )
    if options.headed and not browser.remote and not has_display():
        raise ConfigError(
            "--headed needs a display for the browser window: run it on a desktop or under "
            "xvfb-run, or leave out --headed"
        )
    if store is not None:
        check_store(store)
    return Prepared(settings, request, store, browser, mail, secret, saved, command)


def site_file_path(settings: Settings) -> tuple[Path, bool]:
    """(the site file, whether it was named): HTX_KEYS_SITE_FILE, else site.toml beside the
    accounts file (--config, HTX_KEYS_CONFIG, else ~/.config/htx-keys/accounts.toml)."""
    from automation.accounts import accounts_path

    if settings.site_file is not None:
        return settings.site_file, True
    accounts = Path(settings.accounts_file) if settings.accounts_file else settings.config_file
    return accounts_path(accounts, os.environ).parent / SITE_FILE_NAME, False


def use_site_file(settings: Settings) -> Overrides:
    """Read and check the site file (texts and locators that replace the shipped ones), and
    make the flow use it; before any browser, so a mistake in it is a one-line error."""
    path, named = site_file_path(settings)
    overrides = load_overrides(path, required=named)
    apply_overrides(overrides)
    return overrides


def has_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
