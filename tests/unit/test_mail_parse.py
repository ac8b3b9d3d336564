"""Finding the code in a verification mail, matching its sender, and checking mail settings."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from automation.errors import ConfigError, InputError, MailError
from automation.mail import Inbox
from automation.mail_settings import DEFAULT_SENDERS, MailSettings, check_settings, parse_senders
from automation.mailparse import (
    DEFAULT_CODE_PATTERN,
    Recipient,
    addressed_to,
    extract_code,
    is_address,
    is_ours,
    mask_fits,
    masked_addresses,
    recipients,
    sender_matches,
    sender_of,
)


def raw(text: str) -> Message:
    return email.message_from_bytes(text.encode("utf-8"))


def plain(body: str, subject: str = "HTX") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "HTX <noreply@htx.com>"
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


# -- where the code is -------------------------------------------------------------------------


def test_text_only() -> None:
    assert extract_code(plain("Your verification code is 482913. Valid 10 min.")) == "482913"


def test_html_only_ignores_styles_scripts_and_unescapes() -> None:
    msg = EmailMessage()
    msg.set_content(
        "<html><head><title>Code 999999</title><style>.x{color:#123456}</style></head>"
        "<body><script>var order = 654321;</script>"
        "<table><tr><td>Verification&nbsp;code</td><td><b>482913</b></td></tr></table>"
        "<p>&copy; 2024 HTX</p></body></html>",
        subtype="html",
    )
    assert extract_code(msg) == "482913"


def test_multipart_alternative_prefers_the_text_part() -> None:
    msg = MIMEMultipart("alternative")
    msg.attach(MIMEText("Your verification code: 111111", "plain"))
    msg.attach(MIMEText("<p>Your verification code: <b>222222</b></p>", "html"))
    assert extract_code(msg) == "111111"


def test_html_part_used_when_the_text_part_has_no_code() -> None:
    msg = MIMEMultipart("alternative")
    msg.attach(MIMEText("Please view this message in an HTML mail client.", "plain"))
    msg.attach(MIMEText("<p>Your verification code: <b>222222</b></p>", "html"))
    assert extract_code(msg) == "222222"


def test_quoted_printable_with_a_chinese_keyword() -> None:
    msg = raw(
        "From: noreply@htx.com\r\nSubject: =?utf-8?b?6aqM6K+B56CB?=\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "=E6=82=A8=E7=9A=84=E9=AA=8C=E8=AF=81=E7=A0=81=EF=BC=9A482913=EF=BC=8C=E8=AF=B7=\r\n"
        "=E5=8B=BF=E6=B3=84=E9=9C=B2=E3=80=82\r\n"
    )
    assert extract_code(msg) == "482913"


def test_base64_html() -> None:
    msg = MIMEText("<div>Email verification code</div><div>482913</div>", "html", "utf-8")
    assert msg["Content-Transfer-Encoding"] == "base64"
    assert extract_code(email.message_from_bytes(msg.as_bytes())) == "482913"


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("gb2312", "您的验证码是 482913，10 分钟内有效。"),
        ("gbk", "您的驗證碼是：482913"),
        ("iso-8859-1", "Votre code de vérification : 482913"),
        ("shift_jis", "確認コード (code): 482913"),
    ],
)
def test_non_utf8_charsets(charset: str, text: str) -> None:
    msg = MIMEText(text, "plain", charset)
    assert extract_code(email.message_from_bytes(msg.as_bytes())) == "482913"


def test_other_numbers_beside_the_code() -> None:
    body = (
        "Order ID: 20240115123456789 (order 123456 in the app)\n"
        "Your verification code for withdrawal address 2024-123456 is 482913.\n"
        "Amount 123456.78 USDT; balance 1,234,567.\n"
        "Questions? Call +86 13800138000, +123456 or 555-0100.\n"
        "© 2024 HTX. 2024-01-15 12:30:45 UTC"
    )
    assert extract_code(plain(body)) == "482913"


def test_several_codes_take_the_first_after_the_keyword() -> None:
    body = "Ref 333333.\nYour verification code is 111111. The old code 222222 no longer works."
    assert extract_code(plain(body)) == "111111"


def test_keyword_then_code_on_a_later_line() -> None:
    assert extract_code(plain("Verification code:\n\n        482913\n\nHTX")) == "482913"


def test_no_code() -> None:
    assert extract_code(plain("Welcome to HTX! Your account 12345678 is ready.")) is None
    assert extract_code(plain("Your verification code expired. Request a new one.")) is None


def test_lone_number_fallback_only_when_unambiguous() -> None:
    assert extract_code(plain("Use 482913 to continue.")) == "482913"
    assert extract_code(plain("Use 482913 to continue (482913).")) == "482913"
    assert extract_code(plain("Use 482913 or 571234 to continue.")) is None
    # A custom pattern is taken at its word: no fallback.
    assert extract_code(plain("Use 482913 to continue."), r"PIN (\d{6})") is None


def test_subject_as_last_resort() -> None:
    msg = plain("Open the app to see more.", subject="482913 is your HTX verification code")
    assert extract_code(msg) == "482913"


def test_attachments_are_not_read() -> None:
    msg = plain("Hello")
    msg.add_attachment(b"verification code 482913", maintype="text", subtype="plain")
    assert extract_code(msg) is None


def test_custom_pattern() -> None:
    assert extract_code(plain("PIN: 7788-9900"), r"PIN: (\d{4}-\d{4})") == "7788-9900"


def test_default_pattern_has_one_group() -> None:
    import re

    assert re.compile(DEFAULT_CODE_PATTERN).groups == 1


# -- who sent it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_header", "matches"),
    [
        ("HTX <noreply@htx.com>", True),
        ("HTX <NoReply@HTX.COM>", True),
        ("noreply@notice.htx.com", True),
        ("=?utf-8?b?54Gr5biB?= <service@huobi.com>", True),
        ("Huobi <no-reply@mail.huobi.com>", True),
        ("noreply@htx.com.evil.test", False),
        ("noreply@evilhtx.com", False),
        ("noreply@htx.co", False),
        ('"noreply@htx.com" <phish@evil.test>', False),
        ("noreply@htx.com <phish@evil.test>", False),  # two addresses: refused, not guessed
        ("phish@evil.test (noreply@htx.com)", False),
        ("", False),
    ],
)
def test_sender_matching(from_header: str, matches: bool) -> None:
    msg = raw(f"From: {from_header}\r\nSubject: x\r\n\r\nbody\r\n")
    assert sender_matches(sender_of(msg), DEFAULT_SENDERS) is matches


def test_sender_of_lowercases_the_address() -> None:
    assert sender_of(raw("From: HTX <NoReply@HTX.com>\r\n\r\n")) == "noreply@htx.com"
    assert sender_of(raw("Subject: none\r\n\r\n")) is None


def test_star_does_not_swallow_an_at_sign() -> None:
    assert not sender_matches("noreply@htx.com@evil.test", ("*@evil.test",))
    assert sender_matches("Alerts@Example.Test", ("alerts@example.test",))


def test_parse_senders() -> None:
    assert parse_senders("a@x.com, *@htx.com") == ("a@x.com", "*@htx.com")
    assert parse_senders(" *@htx.com;*@huobi.com \n") == ("*@htx.com", "*@huobi.com")
    with pytest.raises(InputError):
        parse_senders(" , ")
    with pytest.raises(InputError):
        parse_senders("htx.com")


# -- settings ----------------------------------------------------------------------------------


def settings(**changes: object) -> MailSettings:
    base: dict[str, object] = {
        "host": "imap.example.test",
        "port": None,
        "user": "me@example.test",
        "password": "hunter2-secret",
    }
    base.update(changes)
    return MailSettings(**base)  # type: ignore[arg-type]


def test_plain_is_refused_to_a_remote_host() -> None:
    with pytest.raises(ConfigError) as info:
        check_settings(settings(security="plain"))
    assert "imap.example.test" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.2.1", "::1", "localhost", "LOCALHOST"])
def test_plain_is_allowed_to_loopback(host: str) -> None:
    check_settings(settings(host=host, security="plain"))


def test_missing_ca_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        check_settings(settings(ca_file=tmp_path / "missing.pem"))
    assert "missing.pem" in str(info.value)


@pytest.mark.parametrize("pattern", [r"(\d{6}", r"\d{6}"])
def test_bad_code_patterns(pattern: str) -> None:
    with pytest.raises(ConfigError):
        check_settings(settings(code_pattern=pattern))


def test_default_ports_and_no_password_in_repr() -> None:
    assert settings().effective_port == 993
    assert settings(security="starttls").effective_port == 143
    assert settings(port=1993).effective_port == 1993
    assert "hunter2" not in repr(settings())


def test_connection_refused_names_host_and_port_not_password() -> None:
    with socket.socket() as sock:  # a loopback port that is certainly closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox(settings(host="127.0.0.1", port=port, security="plain"))
    with pytest.raises(MailError) as info:
        inbox.open()
    assert str(info.value) == f"Cannot connect to IMAP server 127.0.0.1:{port}: connection refused"


def test_policy_default_messages_work_too() -> None:
    msg = email.message_from_bytes(
        plain("Your verification code is 482913").as_bytes(), policy=email.policy.default
    )
    assert extract_code(msg) == "482913"
    assert sender_of(msg) == "noreply@htx.com"


# -- whom a mail is for (accounts sharing one mailbox) ------------------------------------------

ME, BOB = "alice@team.example", "bob@team.example"


def mail_to(body: str = "Your verification code is 482913.", **headers: str) -> EmailMessage:
    msg = plain(body)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


@pytest.mark.parametrize(
    ("headers", "body", "others", "verdict"),
    [
        # To / Cc say whom HTX addressed: ours, or someone else's.
        ({"To": ME}, "", (), "ours"),
        ({"To": f"Alice <{ME.upper()}>"}, "", (), "ours"),  # the name and the case aside
        ({"To": BOB}, "", (), "theirs"),
        ({"To": "carol@team.example"}, "", (BOB,), "theirs"),  # a colleague not in the file
        ({"Cc": ME}, "", (BOB,), "ours"),
        ({"To": f"{BOB}, {ME}"}, "", (BOB,), "ours"),
        # ... and outrank where it was delivered: the shared mailbox is often Alice's own.
        ({"To": BOB, "Delivered_To": ME}, "", (BOB,), "theirs"),
        # Sent blind through an alias: the envelope recipient before the alias (Postfix).
        ({"X_Original_To": ME, "Delivered_To": "team@team.example"}, "", (BOB,), "ours"),
        ({"X_Original_To": BOB, "Delivered_To": ME}, "", (BOB,), "theirs"),
        # Delivered-To / Envelope-To only confirm, never refuse: they name the final mailbox.
        ({"Delivered_To": ME}, "", (BOB,), "ours"),
        ({"Envelope_To": ME}, "", (), "ours"),
        ({"Delivered_To": "team@team.example"}, "", (BOB,), "unknown"),
        ({"Delivered_To": f"{BOB}, {ME}"}, "", (BOB,), "unknown"),  # a forwarding hop each
        # HTX masks the account's address in its pages ("al***@team.example"); in a body:
        ({}, "Code 482913 for your account al***@team.example.", (BOB,), "ours"),
        ({}, "Code 482913 for your account bo***@team.example.", (BOB,), "theirs"),
        ({}, "Code 482913 for your account a***e@team.example.", (), "ours"),
        ({}, "Code 482913 for your account al***@other.example.", (), "theirs"),
        ({}, "Code 482913 for your account al***@te***.example.", (), "ours"),
        # A mask Alice's and a colleague's address both fit decides nothing.
        ({}, "Code 482913 for your account a***@team.example.", ("al@team.example",), "unknown"),
        # Nothing says whom: a mail sent blind with no trace of the address.
        ({}, "", (BOB,), "unknown"),
        ({}, "", (), "unknown"),
    ],
)
def test_addressed_to(
    headers: dict[str, str], body: str, others: tuple[str, ...], verdict: str
) -> None:
    msg = mail_to(body or "Your verification code is 482913.", **headers)
    assert addressed_to(msg, ME, others) == verdict


@pytest.mark.parametrize(
    ("headers", "others", "verdict"),
    [
        ({"To": BOB}, (BOB,), "theirs"),  # a known colleague's
        ({"To": "carol@team.example"}, (BOB,), "unknown"),  # maybe ours: our address is unknown
        ({"To": "carol@team.example"}, (), "unknown"),
        ({}, (BOB,), "unknown"),
    ],
)
def test_addressed_to_an_account_without_a_known_address(
    headers: dict[str, str], others: tuple[str, ...], verdict: str
) -> None:
    # A login by phone number: HTX_EMAIL is no address, so nothing can confirm a mail as ours.
    assert addressed_to(mail_to(**headers), "+86 13812345678", others) == verdict
    assert addressed_to(mail_to(**headers), None, others) == verdict


@pytest.mark.parametrize(
    ("verdict", "others", "taken"),
    [
        ("ours", (BOB,), True),
        ("theirs", (), False),
        # A mail we cannot place is taken only while no other account is known to read the
        # mailbox: exactly one account could then be its recipient.
        ("unknown", (), True),
        ("unknown", (BOB,), False),
    ],
)
def test_is_ours(verdict: Recipient, others: tuple[str, ...], taken: bool) -> None:
    assert is_ours(verdict, others) is taken


def test_masked_addresses_come_from_the_text_html_and_subject() -> None:
    msg = MIMEMultipart("alternative")
    msg["Subject"] = "Code for ab***@example.com"
    msg.attach(MIMEText("Dear c*@x.example, code 123456; write to support@htx.com", "plain"))
    msg.attach(MIMEText("<p>For <b>de***@EXAMPLE.org</b>: 123456</p>", "html"))
    assert masked_addresses(msg) == {"ab***@example.com", "c*@x.example", "de***@example.org"}
    assert masked_addresses(plain("No mask here: a * b, 2*3@4, support@htx.com")) == set()


@pytest.mark.parametrize(
    ("mask", "address", "fits"),
    [
        ("ab***@example.com", "abby@example.com", True),
        ("ab***@example.com", "ab@example.com", True),  # the stars may hide nothing
        ("ab***@example.com", "ABBY@Example.COM", True),
        ("ab***@example.com", "bob@example.com", False),
        ("ab***@example.com", "abby@example.org", False),
        ("a***y@ex***.com", "abby@example.com", True),
        ("a***y@ex***.com", "abbe@example.com", False),
        ("a.b***@example.com", "axbc@example.com", False),  # a dot is a dot, not a wildcard
    ],
)
def test_mask_fits(mask: str, address: str, fits: bool) -> None:
    assert mask_fits(mask, address) is fits


def test_recipients_and_is_address() -> None:
    msg = mail_to(To='"Alice, A." <Alice@Team.example>, bob@team.example', Cc="not an address")
    assert recipients(msg) == {"alice@team.example", "bob@team.example"}
    assert recipients(msg, ["Cc"]) == set()
    assert [is_address(t) for t in ("a@b.c", "+86 138", "", None, "a@", "@b", "a b@c")] == [
        True,
        False,
        False,
        False,
        False,
        False,
        False,
    ]
