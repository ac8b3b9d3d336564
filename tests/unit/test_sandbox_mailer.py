"""Verification mail: its MIME shape, mail target URLs, and delivery to a real SMTP/LMTP server."""

from __future__ import annotations

import imaplib
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP

from sandbox.faults import Faults
from sandbox.mailer import Mailer, MailTarget, build_verification_mail

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def mail(code: str = "123456", purpose: str = "create") -> EmailMessage:
    return build_verification_mail(
        code, purpose, "al@mail.example.test", "HTX <noreply@htx.com>", WHEN
    )


def test_mail_has_text_and_html_parts_with_the_code() -> None:
    msg = mail("042917")
    assert msg.get_content_type() == "multipart/alternative"
    assert parseaddr(msg["From"])[1].endswith("@htx.com")
    assert msg["To"] == "al@mail.example.test"
    assert msg["Subject"] == "[HTX] Verification code"
    assert msg["Message-ID"].endswith("@htx.com>")
    assert msg["Date"]
    text, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert text is not None and html is not None
    assert "Your verification code is 042917." in text.get_content()
    assert "042917" in html.get_content()
    assert "creating an API key" in text.get_content()
    delete_text = mail(purpose="delete").get_body(("plain",))
    assert delete_text is not None and "deleting an API key" in delete_text.get_content()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", ("smtp", "127.0.0.1", 2525, None, None, "INBOX")),
        ("smtp://mail.test", ("smtp", "mail.test", 25, None, None, "INBOX")),
        (
            "smtp+starttls://u:p@mail.test:587",
            ("smtp+starttls", "mail.test", 587, "u", "p", "INBOX"),
        ),
        ("lmtp://localhost:24", ("lmtp", "localhost", 24, None, None, "INBOX")),
        (
            "imap+starttls://bob%40x.test:p%3Aw%2F@h:1143/Sent%20Items",
            ("imap+starttls", "h", 1143, "bob@x.test", "p:w/", "Sent Items"),
        ),
        ("imaps://bob:pw@h", ("imaps", "h", 993, "bob", "pw", "INBOX")),
        ("IMAPS://bob:pw@h:9993/", ("imaps", "h", 9993, "bob", "pw", "INBOX")),
    ],
)
def test_parse_good_targets(url: str, expected: tuple[Any, ...]) -> None:
    t = MailTarget.parse(url, ca_file=Path("/tmp/ca.pem"))
    assert (t.scheme, t.host, t.port, t.user, t.password, t.mailbox) == expected
    assert t.ca_file == Path("/tmp/ca.pem")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://h:25", "unsupported scheme 'http'"),
        ("127.0.0.1:25", "unsupported scheme"),
        ("smtp://:25", "has no host"),
        ("smtp://h:99999", "invalid port"),
        ("smtp://h:25/INBOX", "takes no mailbox path"),
        ("smtp://h:25?x=1", "query strings"),
        ("imaps://h:993", "needs user:password@"),
        ("imap+starttls://bob@h:143", "needs user:password@"),
    ],
)
def test_parse_bad_targets(url: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("?", r"\?")):
        MailTarget.parse(url)


def test_password_stays_out_of_repr_and_errors() -> None:
    target = MailTarget.parse("imaps://bob:s3cr3t-pw@h:993")
    assert "s3cr3t-pw" not in repr(target)
    assert "s3cr3t-pw" not in target.display
    with pytest.raises(ValueError) as info:
        MailTarget.parse("ftp://bob:s3cr3t-pw@h")
    assert "s3cr3t-pw" not in str(info.value)


class Collect:
    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class LmtpController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["smtp", "lmtp"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, Collect]]:
    handler = Collect()
    cls = LmtpController if request.param == "lmtp" else Controller
    controller = cls(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"{request.param}://127.0.0.1:{controller.port}", handler
    finally:
        controller.stop()


def test_delivery(server: tuple[str, Collect]) -> None:
    url, handler = server
    MailTarget.parse(url).deliver(mail("654321"), "al@mail.example.test")
    ((sender, rcpts, content),) = handler.envelopes
    assert sender == "noreply@htx.com"
    assert rcpts == ["al@mail.example.test"]
    received = message_from_bytes(content, policy=policy.default)
    assert isinstance(received, EmailMessage)
    body = received.get_body(("plain",))
    assert body is not None and "654321" in body.get_content()


def test_delayed_and_dropped_delivery(server: tuple[str, Collect]) -> None:
    url, handler = server
    faults = Faults(drop_mail=True)
    mailer = Mailer(MailTarget.parse(url), faults)
    mailer.send(mail(), "al@mail.example.test")
    faults.drop_mail, faults.mail_delay_s = False, 0.2
    mailer.send(mail(), "al@mail.example.test")
    deadline = time.monotonic() + 10
    while not handler.envelopes and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(handler.envelopes) == 1


def test_refused_connection_raises() -> None:
    with pytest.raises(OSError):
        MailTarget.parse(f"smtp://127.0.0.1:{free_port()}").deliver(mail(), "a@b.test")


def test_imap_append_over_starttls(tmp_path: Path) -> None:
    # The embedded pymap server is the one the CLI uses; this proves APPEND works against it.
    mailserver = pytest.importorskip("sandbox.mailserver")
    with mailserver.EmbeddedImap(tmp_path) as imap:
        target = MailTarget.parse(imap.delivery_url(), ca_file=imap.ca_file)
        target.deliver(mail("778899"), "al@mail.example.test")
        client = imaplib.IMAP4(imap.host, imap.port, timeout=10)
        try:
            client.starttls(ssl_context=ssl.create_default_context(cafile=str(imap.ca_file)))
            client.login(imap.user, imap.password)
            client.select("INBOX")
            _, found = client.search(None, '(SUBJECT "[HTX] Verification code")')
            _, data = client.fetch(found[0].split()[-1], "(RFC822)")
        finally:
            client.logout()
    raw = data[0]
    assert isinstance(raw, tuple) and b"778899" in raw[1]
