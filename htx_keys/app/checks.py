"""The rows of `htx-keys doctor`, and the checks that need no browser: settings, clock,
mailbox, store."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

from automation.config import Settings
from automation.errors import ConfigError, ExitStatus, HtxKeysError
from automation.mail import Inbox
from automation.mail_auth import MECHANISMS
from automation.mail_settings import MailSettings, check_settings
from automation.otp import validate_secret
from automation.redaction import REDACTOR
from automation.schema import ENV_NAMES
from automation.store import check_store, open_store
from htx_keys.app.code_sources import code_command_of, imap_in_use
from htx_keys.app.preflight import mail_settings, needed_settings

DOCTOR_FAILED = ExitStatus.DOCTOR  # 13: a check failed
MAX_CLOCK_SKEW_S = 5.0
NOTE = "htx-keys doctor check"
NAV_TIMEOUT_MS = 30_000.0  # page loads; each locator gets the shorter --timeout
ANSWER_TIMEOUT_MS = 15_000.0  # the site's answer to a click (its calls take a while)
CAPTCHA_TIMEOUT_S = 180.0  # a person solving a captcha in a --headed run
PAGES_FILE = "flows/htx/locators.py"
NEEDS_LOGIN = "needs a login"
Result = Literal["pass", "FAIL", "skip"]
CODES_FROM_COMMAND = "not used: email codes come from the code command"


@dataclass
class Check:
    check: str
    result: Result
    detail: str = ""
    fix: str = ""

    def __post_init__(self) -> None:
        # Rows carry server messages and exception text: none may carry a secret.
        self.detail, self.fix = REDACTOR.scrub(self.detail), REDACTOR.scrub(self.fix)


# --- checks without a browser ----------------------------------------------------------------
def check_settings_rows(
    settings: Settings, *, saved_session: bool = False
) -> tuple[list[Check], MailSettings | None]:
    """Rows for the required settings, the TOTP seed and the mail settings; the latter if sane."""
    rows: list[Check] = []
    needed = needed_settings(settings, saved_session=saved_session)
    try:
        settings.require(*needed)
        source = f" (with {settings.source})" if settings.source else ""
        rows.append(Check("settings", "pass", f"{len(needed)} required settings set{source}"))
    except ConfigError as exc:
        rows.append(Check("settings", "FAIL", exc.message, "see .env.example for each setting"))
    if not settings.totp_secret:
        rows.append(Check("TOTP seed", "skip", f"{ENV_NAMES['totp_secret']} is not set"))
    else:
        try:
            bits = len(validate_secret(settings.totp_secret).rstrip("=")) * 5
            rows.append(Check("TOTP seed", "pass", f"a base32 seed of {bits} bits"))
        except ConfigError as exc:
            rows.append(Check("TOTP seed", "FAIL", exc.message, exc.hint or ""))
    if not imap_in_use(settings):
        rows.append(Check("mail settings", "skip", CODES_FROM_COMMAND))
        return rows, None
    mail_needs = ("imap_host", "imap_password")[: 2 if settings.imap_auth == "password" else 1]
    missing = [ENV_NAMES[n] for n in mail_needs if not getattr(settings, n)]
    if missing:
        rows.append(Check("mail settings", "skip", f"{' and '.join(missing)} not set"))
        return rows, None
    try:
        mail = mail_settings(settings)
        check_settings(mail)
    except HtxKeysError as exc:
        fix = exc.hint or "fix the HTX_IMAP_* / HTX_MAIL_* settings (see .env.example)"
        rows.append(Check("mail settings", "FAIL", exc.message, fix))
        return rows, None
    how = mail.security if mail.auth == "password" else f"{mail.security}, {mail.auth}"
    where = f"{mail.user} at {mail.host}:{mail.effective_port} ({how})"
    rows.append(Check("mail settings", "pass", where))
    return rows, mail


def check_clock(url: str, timeout_s: float = 10.0, max_skew_s: float = MAX_CLOCK_SKEW_S) -> Check:
    """Compare the site's HTTP Date with this machine's clock."""
    request = urllib.request.Request(url, headers={"User-Agent": "htx-keys doctor"})
    before = time.time()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            date = response.headers.get("Date")
    except urllib.error.HTTPError as exc:  # an error page still carries the server's Date
        date = exc.headers.get("Date")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("clock", "FAIL", f"cannot reach {url}: {reason}", "check HTX_BASE_URL")
    after = time.time()
    if not date:
        return Check("clock", "skip", f"{url} sent no Date header")
    try:
        server = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        return Check("clock", "skip", f"{url} sent an unreadable Date header: {date[:40]!r}")
    # Date is in whole seconds, cut down: on average half a second before the moment it names.
    skew = server + 0.5 - (before + after) / 2
    if abs(skew) > max_skew_s:
        side = "behind" if skew > 0 else "ahead of"
        detail = f"this machine's clock is {abs(skew):.0f} s {side} the site's (HTTP Date)"
        return Check("clock", "FAIL", detail, "sync the clock (NTP); GA codes depend on it")
    return Check("clock", "pass", f"within {abs(skew):.1f} s of the site's (HTTP Date)")


def check_mailbox(mail: MailSettings | None) -> Check:
    if mail is None:
        return Check("mailbox", "skip", "needs sane mail settings")
    inbox = Inbox(mail)
    try:
        inbox.open()  # log in and select the folder, read-only
    except HtxKeysError as exc:
        return Check("mailbox", "FAIL", exc.message, exc.hint or "check the HTX_IMAP_* settings")
    finally:
        inbox.close()
    how = {"tls": "TLS", "starttls": "STARTTLS"}.get(mail.security)
    security = f"{how}, certificate checked" if how else "plain, loopback only"
    detail = f"{inbox.where} ({security}); {mail.folder} of {mail.user}"
    if mail.token_source is not None:
        detail += f", logged in with {MECHANISMS[mail.auth]} and {mail.token_source.description}"
    return Check("mailbox", "pass", detail)


def keyring_usable(service: str) -> tuple[bool, str]:
    """automation.store_keyring's, imported when a keyring store is checked (not before)."""
    from automation.store_keyring import keyring_usable as usable

    return usable(service)


def check_store_rows(spec: str) -> list[Check]:
    try:
        store = open_store(spec)
    except HtxKeysError as exc:
        return [Check("store", "FAIL", exc.message, "use keyring, json:PATH or env-file:PATH")]
    from automation.store_keyring import KeyringStore

    if isinstance(store, KeyringStore):
        ok, reason = keyring_usable(store.service)
        if ok:
            return [Check("keyring", "pass", f"stores and returns a secret: {store.location}")]
        fix = "run and unlock a Secret Service (gnome-keyring, KWallet), or --store json:PATH"
        return [Check("keyring", "FAIL", reason, fix)]
    rows = [Check("keyring", "skip", f"not used: the store is {store.spec}")]
    try:
        check_store(store)  # writable, and holds nothing a save would refuse; writes nothing
        rows.append(Check("store file", "pass", f"{store.location} can take a key"))
    except HtxKeysError as exc:
        rows.append(Check("store file", "FAIL", exc.message, exc.hint or "choose another --store"))
    return rows


def check_code_command(settings: Settings) -> Check:
    """The code command as written, the program it runs and which codes it gives; it is not
    run (it would wait for a code nobody sent)."""
    env = ENV_NAMES["code_command"]
    try:
        command = code_command_of(settings)
    except ConfigError as exc:
        fix = f"set {env} to a program on PATH or the path of an executable"
        return Check("code command", "FAIL", exc.message, fix)
    if command is None:
        return Check("code command", "skip", f"{env} is not set: SMS codes need a person")
    kinds = "SMS codes" if imap_in_use(settings) else "email and SMS codes"
    detail = f"{settings.code_command} ({kinds}; runs {command.argv[0]})"
    return Check("code command", "pass", detail)
