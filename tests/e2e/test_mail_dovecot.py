"""automation.mail against a real Dovecot: TLS, STARTTLS, IDLE, stale and foreign mail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import imaplib
import itertools
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from imapclient import IMAPClient

from automation.errors import MailError, MailTimeout
from automation.mail import Inbox
from automation.mail_settings import MailSettings
from tests.support.dovecot import Dovecot, dovecot  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.cost(10)]
_users = itertools.count(1)


def verification_mail(
    code: str, sender: str = "HTX <noreply@htx.com>", to: str = "", **headers: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    if to != "-":  # "-": sent blind, no To at all
        msg["To"] = to or "user@example.test"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg["Subject"] = "[HTX] Verification code"
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg.set_content(f"Your verification code is {code}. It is valid for 10 minutes.")
    msg.add_alternative(f"<p>Your verification code is <b>{code}</b>.</p>", subtype="html")
    return msg.as_bytes()


@dataclasses.dataclass
class Mailbox:
    server: Dovecot
    user: str
    password: str

    def settings(self, security: str = "tls", **changes: object) -> MailSettings:
        port = self.server.imaps_port if security == "tls" else self.server.imap_port
        values: dict[str, object] = {
            "host": "localhost",
            "port": port,
            "user": self.user,
            "password": self.password,
            "security": security,
            "ca_file": self.server.ca_file,
            "poll_interval": 0.5,
        }
        values.update(changes)
        return MailSettings(**values)  # type: ignore[arg-type]

    def deliver(self, code: str, sender: str = "HTX <noreply@htx.com>") -> None:
        self.server.deliver(self.user, verification_mail(code, sender, self.user))

    def deliver_later(self, delay: float, *mails: tuple[str, str]) -> list[float]:
        """Deliver in a thread after `delay`; the returned list gets the delivery start time."""
        started: list[float] = []

        def run() -> None:
            time.sleep(delay)
            started.append(time.monotonic())
            for code, sender in mails:
                self.deliver(code, sender)

        threading.Thread(target=run, daemon=True).start()
        return started


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Iterator[Mailbox]:  # noqa: F811 (pytest injects the fixture)
    n = next(_users)
    box = Mailbox(dovecot, f"user{n}", f"pw-{n}-secret")
    dovecot.add_user(box.user, box.password)
    yield box


HTX = "HTX <noreply@htx.com>"


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_new_code_wins_over_a_stale_one_via_idle(mailbox: Mailbox, security: str) -> None:
    mailbox.deliver("111111")  # an old verification mail still in the inbox
    progress: list[str] = []
    with Inbox(mailbox.settings(security), on_progress=progress.append) as inbox:
        inbox.mark()
        started = mailbox.deliver_later(0.5, ("222222", HTX))
        code = inbox.wait_for_code(timeout=30)
        returned = time.monotonic()
    assert code == "222222"
    print(f"Dovecot/{security}/IDLE: delivery to code {returned - started[0]:.3f} s")
    assert not any("222222" in p for p in progress)


def test_foreign_sender_after_mark_is_ignored(mailbox: Mailbox) -> None:
    with Inbox(mailbox.settings()) as inbox:
        inbox.mark()
        mailbox.deliver("333333", "HTX <noreply@htx.com.evil.test>")
        mailbox.deliver("444444", '"noreply@htx.com" <phish@evil.test>')
        mailbox.deliver_later(0.3, ("555555", "Huobi <service@notice.huobi.com>"))
        assert inbox.wait_for_code(timeout=30) == "555555"


def test_newest_of_two_new_mails_wins(mailbox: Mailbox) -> None:
    with Inbox(mailbox.settings()) as inbox:
        inbox.mark()
        mailbox.deliver("666666")
        mailbox.deliver("777777")
        assert inbox.wait_for_code(timeout=30) == "777777"


def test_timeout_names_senders_and_mailbox(mailbox: Mailbox) -> None:
    with Inbox(mailbox.settings()) as inbox:
        inbox.mark()
        mailbox.deliver("888888", "Other <news@example.test>")
        with pytest.raises(MailTimeout) as info:
            inbox.wait_for_code(timeout=2)
    assert str(info.value) == (
        "No verification email from *@htx.com, *@*.htx.com, *@huobi.com, *@*.huobi.com "
        f"arrived in 2 s (mailbox {mailbox.user}@localhost)"
    )
    assert info.value.hint is not None and "1 new message(s) from other senders" in info.value.hint


def test_appended_mail_with_an_old_date_is_stale(mailbox: Mailbox) -> None:
    """A new UID is not enough: a mail filed now but dated an hour ago is not the new code."""
    with Inbox(mailbox.settings()) as inbox:
        inbox.mark()
        with IMAPClient("localhost", mailbox.server.imaps_port, ssl_context=_context(mailbox)) as c:
            c.login(mailbox.user, mailbox.password)
            old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            c.append("INBOX", verification_mail("121212"), msg_time=old)
        mailbox.deliver_later(0.2, ("343434", HTX))
        assert inbox.wait_for_code(timeout=30) == "343434"


def test_polling_when_the_server_has_no_idle(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient, "has_capability", lambda self, cap: cap != "IDLE" and real(self, cap)
    )
    monkeypatch.setattr(IMAPClient, "idle", lambda self: pytest.fail("IDLE used"))
    with Inbox(mailbox.settings(poll_interval=0.2)) as inbox:
        inbox.mark()
        started = mailbox.deliver_later(0.3, ("565656", HTX))
        assert inbox.wait_for_code(timeout=30) == "565656"
        print(f"Dovecot/polling 0.2 s: delivery to code {time.monotonic() - started[0]:.3f} s")


def test_reconnects_when_idle_done_aborts(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = IMAPClient.idle_done
    calls = []

    def flaky(self: IMAPClient) -> object:
        calls.append(1)
        if len(calls) == 1:
            real(self)
            raise imaplib.IMAP4.abort("unexpected response: b'* 1 EXISTS'")
        return real(self)

    monkeypatch.setattr(IMAPClient, "idle_done", flaky)
    progress: list[str] = []
    with Inbox(mailbox.settings(), on_progress=progress.append) as inbox:
        inbox.mark()
        mailbox.deliver_later(0.3, ("787878", HTX))
        assert inbox.wait_for_code(timeout=30) == "787878"
    assert calls and any("reconnecting" in p for p in progress)


def test_uidvalidity_change_falls_back_to_dates(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("automation.mail.DATE_ONLY_SKEW", 1.0)  # keep the test short
    mailbox.deliver("909090")
    time.sleep(1.2)  # INTERNALDATE has whole seconds: keep the stale mail a second before mark
    with Inbox(mailbox.settings()) as inbox:
        inbox.mark()
        # Pretend the folder was recreated: every UID from before is meaningless now.
        assert inbox._mark is not None
        inbox._mark = dataclasses.replace(inbox._mark, uidvalidity=1)
        mailbox.deliver_later(0.2, ("919191", HTX))
        assert inbox.wait_for_code(timeout=30) == "919191"


ALICE, BOB = "alice@team.example", "bob@team.example"


def test_only_the_account_s_own_mail_counts_in_a_shared_mailbox(mailbox: Mailbox) -> None:
    """Alice and Bob read one mailbox: Alice's code, though Bob's (and a stranger's) is newer."""
    settings = mailbox.settings(account_address=ALICE, other_addresses=(BOB,))
    with Inbox(settings) as inbox:
        inbox.mark()
        send = mailbox.server.deliver
        send(mailbox.user, verification_mail("100001", HTX, ALICE))
        send(mailbox.user, verification_mail("100002", HTX, BOB))
        send(mailbox.user, verification_mail("100003", HTX, "-", X_Original_To=BOB))
        send(mailbox.user, verification_mail("100004", HTX, "carol@team.example"))
        send(mailbox.user, verification_mail("100005", HTX, "-"))  # blind: could be anyone's
        assert inbox.wait_for_code(timeout=30) == "100001"
        with pytest.raises(MailTimeout) as info:
            inbox.wait_for_code(timeout=1)
    assert info.value.hint == (
        "3 message(s) addressed to another account were ignored; 1 message(s) that may be "
        "another account's were ignored; 1 code(s) already tried; check the spam folder and "
        "that the account's email is this mailbox"
    )


def test_a_blind_mail_counts_for_an_account_alone_on_its_mailbox(mailbox: Mailbox) -> None:
    with Inbox(mailbox.settings(account_address=ALICE)) as inbox:
        inbox.mark()
        mailbox.server.deliver(mailbox.user, verification_mail("200001", HTX, "-"))
        mailbox.server.deliver(mailbox.user, verification_mail("200002", HTX, BOB))
        assert inbox.wait_for_code(timeout=30) == "200001"


def test_after_a_refused_code_an_older_unused_one_then_a_newer_one(mailbox: Mailbox) -> None:
    """Each code once: the newest first; asked again, an older one not tried yet; then what
    comes next. A duplicate of a code already handed out is no other code."""
    with Inbox(mailbox.settings(account_address=ALICE)) as inbox:
        inbox.mark()
        for code in ("300001", "300002", "300002"):
            mailbox.server.deliver(mailbox.user, verification_mail(code, HTX, ALICE))
        assert inbox.wait_for_code(timeout=30) == "300002"
        assert inbox.wait_for_code(timeout=30) == "300001"
        with pytest.raises(MailTimeout):
            inbox.wait_for_code(timeout=1)
        mailbox.deliver_later(0.2, ("300003", HTX))
        assert inbox.wait_for_code(timeout=30) == "300003"
        inbox.mark()  # a new Send: only what comes now counts, and every code is new again
        mailbox.deliver_later(0.2, ("300001", HTX))
        assert inbox.wait_for_code(timeout=30) == "300001"


def test_wrong_password(mailbox: Mailbox) -> None:
    settings = mailbox.settings(password="not-the-password")
    with pytest.raises(MailError) as info:
        Inbox(settings).open()
    message = str(info.value)
    assert message.startswith(
        f"IMAP login failed for {mailbox.user} at localhost:{mailbox.server.imaps_port}"
    )
    assert "not-the-password" not in message and "\n" not in message


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_system_cas_do_not_trust_the_test_server(mailbox: Mailbox, security: str) -> None:
    with pytest.raises(MailError) as info:
        Inbox(mailbox.settings(security, ca_file=None)).open()
    port = mailbox.settings(security).port
    assert str(info.value).startswith(f"TLS certificate verification failed for localhost:{port}")


def _context(mailbox: Mailbox) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(mailbox.server.ca_file))
