"""Verification mail: build the message the exchange sends, and hand it to a mail server.

Delivery speaks the protocol of whatever server the test or demo runs: SMTP (plain or
STARTTLS), LMTP (Dovecot's local delivery) or IMAP APPEND straight into a mailbox.
"""

from __future__ import annotations

import contextlib
import html
import imaplib
import logging
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sandbox.faults import Faults

log = logging.getLogger("sandbox.mailer")

SUBJECT = "[HTX] Verification code"
TIMEOUT_S = 30.0
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "lmtp": 24, "imap+starttls": 143, "imaps": 993}
IMAP_SCHEMES = ("imap+starttls", "imaps")
ACTIONS = {
    "create": "creating an API key",
    "delete": "deleting an API key",
    "login": "logging in from a new device",
}


@dataclass(frozen=True)
class MailTarget:
    """Where verification mail goes, parsed from a URL such as `smtp://127.0.0.1:2525`."""

    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    mailbox: str = "INBOX"
    ca_file: Path | None = None

    @classmethod
    def parse(cls, url: str, ca_file: Path | None = None) -> MailTarget:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        # Say which scheme was given but never echo the URL: it may hold a password.
        if scheme not in DEFAULT_PORTS:
            raise ValueError(
                f"mail target: unsupported scheme {scheme or '(none)'!r}; use one of "
                + ", ".join(f"{s}://" for s in DEFAULT_PORTS)
            )
        if not parts.hostname:
            raise ValueError(f"mail target: {scheme}:// URL has no host")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise ValueError(f"mail target: {scheme}:// URL has an invalid port") from exc
        if parts.query or parts.fragment:
            raise ValueError("mail target: query strings and fragments are not supported")
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
        if scheme in IMAP_SCHEMES:
            if not user or password is None:
                raise ValueError(f"mail target: {scheme}:// needs user:password@ in the URL")
        elif parts.path not in ("", "/"):
            raise ValueError(f"mail target: {scheme}:// takes no mailbox path")
        if (user is None) != (password is None):
            raise ValueError(f"mail target: {scheme}:// needs both a user and a password")
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port,
            user=user,
            password=password,
            mailbox=mailbox,
            ca_file=Path(ca_file) if ca_file else None,
        )

    @property
    def display(self) -> str:
        """The target without credentials, fit for a log line."""
        path = f"/{self.mailbox}" if self.scheme in IMAP_SCHEMES else ""
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def deliver(self, msg: EmailMessage, rcpt: str) -> None:
        """Hand one message to the server; raises OSError/smtplib/imaplib errors on failure."""
        if self.scheme in IMAP_SCHEMES:
            self._append(msg)
        else:
            self._send(msg, rcpt)

    def _tls(self) -> ssl.SSLContext:
        cafile = str(self.ca_file) if self.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _send(self, msg: EmailMessage, rcpt: str) -> None:
        client: smtplib.SMTP
        if self.scheme == "lmtp":
            client = smtplib.LMTP(self.host, self.port, timeout=TIMEOUT_S)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S)
        with client:
            if self.scheme == "smtp+starttls":
                client.starttls(context=self._tls())
                client.ehlo()
            if self.user is not None and self.password is not None:
                client.login(self.user, self.password)
            sender = parseaddr(str(msg["From"]))[1]
            refused = client.send_message(msg, from_addr=sender, to_addrs=[rcpt])
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)

    def _append(self, msg: EmailMessage) -> None:
        client: imaplib.IMAP4
        if self.scheme == "imaps":
            client = imaplib.IMAP4_SSL(
                self.host, self.port, ssl_context=self._tls(), timeout=TIMEOUT_S
            )
        else:
            client = imaplib.IMAP4(self.host, self.port, timeout=TIMEOUT_S)
            client.starttls(ssl_context=self._tls())
        try:
            client.login(self.user or "", self.password or "")
            status, data = client.append(
                _quote_mailbox(self.mailbox),
                "",
                imaplib.Time2Internaldate(time.time()),
                msg.as_bytes(policy=SMTP),
            )
            if status != "OK":
                raise imaplib.IMAP4.error(f"APPEND refused: {_first_line(data)}")
        finally:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                client.logout()


def _quote_mailbox(name: str) -> str:
    # imaplib sends the mailbox argument as given, so names with spaces need quoting here.
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _first_line(data: object) -> str:
    if isinstance(data, list) and data and isinstance(data[0], bytes):
        return data[0].decode(errors="replace")
    return str(data)


class Mailer:
    """Delivers verification mail as the current faults say: now, later, twice, or not at all."""

    def __init__(self, target: MailTarget | None, faults: Faults) -> None:
        self.target = target
        self.faults = faults

    def send(self, msg: EmailMessage, rcpt: str, later_s: float = 0.0) -> None:
        """Deliver now (errors propagate to the caller) or start a delayed delivery thread;
        `later_s` adds to the faults' delay."""
        if self.target is None or self.faults.drop_mail:
            return
        copies = 2 if self.faults.duplicate_mail else 1
        delay = self.faults.mail_delay_s + later_s
        if delay > 0:
            threading.Thread(
                target=self._deliver_later,
                args=(msg, rcpt, delay, copies),
                name="sandbox-mail",
                daemon=True,
            ).start()
            return
        for _ in range(copies):
            self.target.deliver(msg, rcpt)

    def _deliver_later(self, msg: EmailMessage, rcpt: str, delay: float, copies: int) -> None:
        time.sleep(delay)
        try:
            for _ in range(copies):
                if self.target is not None:
                    self.target.deliver(msg, rcpt)
        except (OSError, smtplib.SMTPException, imaplib.IMAP4.error) as exc:
            log_failure(self.target, rcpt, exc)


def log_failure(target: MailTarget | None, rcpt: str, exc: BaseException) -> None:
    # One line, without the message body: the code must never reach a log.
    where = target.display if target else "(no target)"
    log.warning(
        "verification mail to %s via %s failed: %s: %s", rcpt, where, type(exc).__name__, exc
    )


def build_verification_mail(
    code: str, purpose: str, rcpt: str, mail_from: str, when: datetime
) -> EmailMessage:
    """The message HTX sends: plain text and HTML alternatives, both carrying the code."""
    action = ACTIONS.get(purpose, "performing a security operation")
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = rcpt
    msg["Subject"] = SUBJECT
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="htx.com")
    msg.set_content(
        "Dear user,\n\n"
        f"Your verification code is {code}. It is valid for 10 minutes.\n\n"
        f"You are {action}. If this was not you, please change your password and contact "
        "HTX customer support immediately. Never share this code with anyone, "
        "including HTX staff.\n\n"
        "HTX Team\nThis is an automated message, please do not reply.\n"
    )
    msg.add_alternative(_html_body(code, action), subtype="html")
    return msg


def _html_body(code: str, action: str) -> str:
    code_html = html.escape(code)
    action_html = html.escape(action)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(SUBJECT)}</title></head>
<body style="margin:0;padding:0;background:#f4f6fa;font-family:Arial,Helvetica,sans-serif;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f6fa;">
<tr><td align="center" style="padding:32px 12px;">
<table role="presentation" width="560" cellpadding="0" cellspacing="0"
 style="background:#ffffff;border-radius:8px;overflow:hidden;">
<tr><td style="background:#0b0e14;padding:18px 28px;color:#ffffff;font-size:22px;
 font-weight:bold;letter-spacing:1px;">HTX</td></tr>
<tr><td style="padding:28px;color:#1d2330;font-size:14px;line-height:22px;">
<p style="margin:0 0 16px;">Dear user,</p>
<p style="margin:0 0 8px;">Your verification code is:</p>
<p style="margin:0 0 16px;font-size:30px;font-weight:bold;letter-spacing:6px;color:#0170fe;">
{code_html}</p>
<p style="margin:0 0 16px;">Your verification code is {code_html}.
It is valid for 10 minutes.</p>
<p style="margin:0 0 16px;">You are {action_html}. If this was not you, please change your
password and contact HTX customer support immediately. Never share this code with anyone,
including HTX staff.</p>
<p style="margin:0;">HTX Team</p>
</td></tr>
<tr><td style="padding:16px 28px;background:#f0f2f5;color:#8a93a6;font-size:12px;">
This is an automated message, please do not reply.</td></tr>
</table></td></tr></table></body></html>
"""
