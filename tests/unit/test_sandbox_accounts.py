"""The accounts file and the made-up demo account."""

from __future__ import annotations

from pathlib import Path

import pyotp
import pytest

from sandbox.accounts import Account, demo_account, load_accounts

GOOD = """
[[account]]
email = "demo@example.test"
password = "pw one"
totp_secret = "JBSW Y3DP EHPK 3PXP"
uid = 10000001
mailbox = "inbox@example.test"

[[account]]
email = "two@example.test"
password = "pw two"
totp_secret = "JBSWY3DPEHPK3PXQ"
uid = 10000002
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_accounts(tmp_path: Path) -> None:
    first, second = load_accounts(write(tmp_path, GOOD))
    assert first == Account(
        "demo@example.test", "pw one", "JBSWY3DPEHPK3PXP", 10000001, "inbox@example.test"
    )
    assert second.mailbox == "two@example.test"  # defaults to the login email
    assert (first.deliver_to, second.deliver_to) == ("", "")


def test_an_alias_of_a_shared_mailbox(tmp_path: Path) -> None:
    text = GOOD + 'deliver_to = "team@example.test"\n'
    _first, second = load_accounts(write(tmp_path, text))
    assert (second.mailbox, second.deliver_to) == ("two@example.test", "team@example.test")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[account]\n", "not valid TOML"),
        ("title = 'x'\n", "at least one [[account]] table"),
        (GOOD.replace("uid = 10000002", 'uid = "x"'), "account #2 (two@example.test): uid"),
        (GOOD.replace('"JBSWY3DPEHPK3PXQ"', '"not base32!"'), "totp_secret is not valid base32"),
        (GOOD.replace('password = "pw two"\n', ""), "account #2: password is required"),
        (GOOD.replace("two@example", "demo@example"), "duplicate email: demo@example.test"),
        (GOOD.replace("10000002", "10000001"), "duplicate uid: 10000001"),
        (GOOD + 'colour = "blue"\n', "unknown key(s): colour"),
        (GOOD + 'deliver_to = "team"\n', "deliver_to must be an email address"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        load_accounts(write(tmp_path, text))
    assert fragment in str(info.value)
    assert "not base32!" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read accounts file"):
        load_accounts(tmp_path / "nope.toml")


def test_demo_account_is_random_and_secret_free_in_repr() -> None:
    a, b = demo_account(), demo_account()
    assert (a.email, a.uid, a.mailbox) == ("demo@example.test", 10000001, "demo@example.test")
    assert a.password != b.password and a.totp_secret != b.totp_secret
    assert len(pyotp.TOTP(a.totp_secret).now()) == 6
    assert a.password not in repr(a) and a.totp_secret not in repr(a)
