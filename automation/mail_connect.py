"""The IMAP connection under automation/mail.py's Inbox: connecting (TLS, STARTTLS, login)
with one-line errors, and reading what the server announces while in IDLE."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from collections.abc import Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from automation.errors import MailError
from automation.mail_auth import authenticate, login_failure
from automation.mail_settings import MailSettings


def connect(
    s: MailSettings, where: str, select_folder: Callable[[IMAPClient], object]
) -> IMAPClient:
    """A logged-in connection with the folder selected (by `select_folder`), or a MailError
    that says what failed in one line, never the password."""
    context = ssl.create_default_context(cafile=str(s.ca_file) if s.ca_file else None)
    client: IMAPClient | None = None
    try:
        client = IMAPClient(
            s.host,
            port=s.effective_port,
            ssl=s.security == "tls",
            ssl_context=context,
            timeout=SocketTimeout(connect=15.0, read=60.0),
        )
        if s.security == "starttls":
            if not client.has_capability("STARTTLS"):
                raise MailError(
                    f"IMAP server {where} does not offer STARTTLS",
                    hint="use security=tls (port 993) if the server has implicit TLS",
                )
            client.starttls(context)
        client.normalise_times = False  # keep INTERNALDATE's zone: we compare instants
        authenticate(client, s, where)
        select_folder(client)
        return client
    except BaseException as exc:
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()
        if isinstance(exc, MailError) or not isinstance(exc, Exception):
            raise
        message, hint = describe(s, where, exc)
        raise MailError(message, hint=hint) from exc


def describe(s: MailSettings, where: str, exc: Exception) -> tuple[str, str | None]:
    """A one-line message (host:port and cause, never the password) and a hint."""
    cannot = f"Cannot connect to IMAP server {where}"
    if isinstance(exc, LoginError):
        return login_failure(s, where, clean(s, exc))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate verification failed for {where}: {exc.verify_message}",
            "If the server uses a private CA, give its certificate as the IMAP CA file",
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or clean(s, exc)}", None
    if isinstance(exc, ConnectionRefusedError):
        return f"{cannot}: connection refused", None
    if isinstance(exc, socket.gaierror):
        return f"{cannot}: host not found", None
    if isinstance(exc, TimeoutError):
        return (
            f"{cannot}: timed out",
            "Check the port and security: tls is usually 993, starttls 143",
        )
    if isinstance(exc, SelectError):
        folder = s.folder
        return f"Cannot open folder {folder!r} at {where}: {clean(s, exc)}", None
    return f"IMAP server {where} failed: {clean(s, exc)}", None


def clean(s: MailSettings, exc: BaseException) -> str:
    """An error's text for a message: one line, the password masked."""
    text = str(exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]  # imapclient passes the server's bytes through str()
    if s.password:
        text = text.replace(s.password, "***")
    text = " ".join(text.split())
    return (text[:157] + "…") if len(text) > 160 else (text or type(exc).__name__)


def idle_news(client: IMAPClient, timeout: float) -> bool:
    """In IDLE: whether the server announced anything within `timeout` seconds.

    Whole lines only, each read blocking once the socket has data: imapclient's idle_check
    reads without blocking and drops a line the server sends in two pieces (pymap does at
    times), which then breaks idle_done() and costs a new connection. What follows the
    first line is read by idle_done()."""
    sock = client.socket()
    pending = getattr(sock, "pending", None)  # TLS: bytes decrypted but not read yet
    if not (pending and pending()) and not select.select([sock], [], [], max(0.0, timeout))[0]:
        return False
    line = client._imap._get_line()  # imaplib's reader, as idle_check uses
    return bool(line)


def take_news(client: IMAPClient) -> bool:
    """Whether the server announced new mail (EXISTS) since the last call, outside IDLE.

    imaplib files unsolicited responses in ``untagged_responses`` (imapclient reads the same
    dict for SELECT); there is no public accessor.
    """
    pending = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    return isinstance(pending, dict) and bool(pending.pop("EXISTS", None))


class SelectError(IMAPClientError):  # type: ignore[misc]  # imapclient has no type hints
    """The folder could not be selected (kept apart from connection failures for the message)."""
