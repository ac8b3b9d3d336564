"""automation.mail against the embedded pymap server the sandbox and demo use."""

from __future__ import annotations

import datetime as dt
import os
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from imapclient import IMAPClient

from automation.errors import MailError, MailTimeout
from automation.mail import Inbox
from sandbox.mailserver import EmbeddedImap

pytestmark = [pytest.mark.e2e, pytest.mark.cost(10)]


def verification_mail(code: str, sender: str = "HTX <noreply@htx.com>") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "demo@example.test"
    msg["Subject"] = "[HTX] Verification code"
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg.set_content(f"Your verification code is {code}. It is valid for 10 minutes.")
    msg.add_alternative(f"<p>Your verification code is <b>{code}</b>.</p>", subtype="html")
    return msg.as_bytes()


def append(server: EmbeddedImap, *mails: bytes) -> None:
    """Deliver as the sandbox's mailer does: IMAP APPEND over STARTTLS on a second connection."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with IMAPClient(server.host, server.port, ssl=False) as client:
        client.starttls(context)
        client.login(server.user, server.password)
        for mail in mails:
            client.append("INBOX", mail)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedImap]:
    with EmbeddedImap(tmp_path / "imap", password="pa$$ word/:@%") as imap:
        yield imap


def test_code_arrives_through_idle(server: EmbeddedImap) -> None:
    with Inbox(server.settings(poll_interval=1.0)) as inbox:
        inbox.mark()
        started: list[float] = []

        def deliver() -> None:
            time.sleep(0.3)
            started.append(time.monotonic())
            append(server, verification_mail("135790", "Promo <news@example.test>"))
            append(server, verification_mail("246802"))

        threading.Thread(target=deliver, daemon=True).start()
        code = inbox.wait_for_code(timeout=30)
        elapsed = time.monotonic() - started[0]
    assert code == "246802"
    print(f"pymap/STARTTLS/IDLE: APPEND to code {elapsed:.3f} s")


def test_listening_from_the_mark_has_the_code_the_moment_it_lands(server: EmbeddedImap) -> None:
    """What the flow does around Send: connect in the background, mark (IDLE from there on),
    then poll between looks at the page; wait_for_code() hands over the code poll() took."""
    said: list[str] = []
    inbox = Inbox(server.settings(poll_interval=1.0), on_progress=said.append)
    inbox.connect_in_background()
    try:
        inbox.mark()
        assert inbox.listening
        assert not inbox.poll(0.05)  # nothing yet
        landed: list[float] = []

        def deliver() -> None:
            time.sleep(0.2)
            append(server, verification_mail("864200"))
            landed.append(time.monotonic())

        threading.Thread(target=deliver, daemon=True).start()
        deadline = time.monotonic() + 20
        while not inbox.poll(0.05) and time.monotonic() < deadline:
            pass
        assert inbox.code_at is not None and landed
        assert inbox.wait_for_code(timeout=0.01) == "864200"  # no search, no wait: in hand
        print(
            f"pymap/STARTTLS/IDLE: APPEND done to code in hand {inbox.code_at - landed[0]:+.3f} s"
        )
        assert not any("reconnecting" in line for line in said), said
    finally:
        inbox.close()


def test_a_wrong_password_in_the_background_fails_on_open(server: EmbeddedImap) -> None:
    inbox = Inbox(server.settings(password="not-the-password-1"))
    inbox.connect_in_background()
    with pytest.raises(MailError, match="IMAP login"):
        inbox.open()
    inbox.close()


def test_demo_data_and_stale_mail_are_ignored(server: EmbeddedImap) -> None:
    append(server, verification_mail("111222"))  # before mark: stale
    with Inbox(server.settings()) as inbox:
        inbox.mark()
        with pytest.raises(MailTimeout):
            inbox.wait_for_code(timeout=1)
        append(server, verification_mail("333444"))
        assert inbox.wait_for_code(timeout=30) == "333444"


def test_delivery_url_round_trips_the_credentials(server: EmbeddedImap) -> None:
    url = urlsplit(server.delivery_url())
    assert url.scheme == "imap+starttls" and url.path == "/INBOX"
    assert (url.hostname, url.port) == (server.host, server.port)
    assert unquote(url.username or "") == server.user
    assert unquote(url.password or "") == "pa$$ word/:@%"


def test_password_is_not_on_the_command_line(server: EmbeddedImap) -> None:
    assert server.pid is not None
    argv = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    assert server.password.encode() not in b" ".join(argv)
    assert not (server.workdir / "pymap.args").read_text().count(server.password)


def test_stop_leaves_no_process_and_nothing_in_tmp(tmp_path: Path) -> None:
    before = {p.name for p in Path("/tmp").iterdir() if p.name.startswith("pymap")}
    imap = EmbeddedImap(tmp_path / "imap")
    imap.start()
    pid, port = imap.pid, imap.port
    assert pid is not None
    append(imap, verification_mail("999000"))
    imap.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    after = {p.name for p in Path("/tmp").iterdir() if p.name.startswith("pymap")}
    assert after == before
    with pytest.raises(OSError):
        IMAPClient(imap.host, port, ssl=False, timeout=2)
    imap.stop()  # a second stop is harmless
