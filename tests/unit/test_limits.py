import datetime as dt

import pytest

from automation.errors import InputError
from flows.htx.limits import check_ips, check_note, check_permissions, check_request


def test_request_is_normalised() -> None:
    req = check_request(
        "  bot  ", ["trade"], ["1.2.3.4, 10.0.0.9/24", "1.2.3.4", "2001:DB8::1", "10.0.0.0/24"]
    )
    assert req.note == "bot"
    assert req.permissions == ("read", "trade")
    assert req.ip_addresses == ("1.2.3.4", "10.0.0.0/24", "2001:db8::1")
    assert not req.expires


def test_only_a_trade_or_withdraw_key_without_ip_expires_if_unused() -> None:
    created = dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
    trade = check_request("n", ["trade"], [])
    assert trade.expires
    assert trade.expiry_if_unused(created) == dt.datetime(2027, 2, 19, 10, tzinfo=dt.UTC)
    assert check_request("n", ["withdraw"], [], allow_withdraw=True).expires
    read_only = check_request("n", [], [])
    assert not read_only.expires and read_only.expiry_if_unused(created) is None
    assert check_request("n", ["trade"], ["1.2.3.4"]).expiry_if_unused(created) is None


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ("", "--note is required and cannot be empty (HTX makes the note compulsory)"),
        ("   ", "--note is required and cannot be empty (HTX makes the note compulsory)"),
        ("x" * 256, "--note is 256 characters long; HTX allows at most 255"),
    ],
)
def test_bad_notes(note: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        check_note(note)
    assert str(err.value) == message


def test_note_of_255_is_fine() -> None:
    assert check_note("x" * 255) == "x" * 255


def test_permissions() -> None:
    assert check_permissions(["read,trade", "TRADE"], allow_withdraw=False) == ("read", "trade")
    assert check_permissions(["withdraw"], allow_withdraw=True) == ("read", "withdraw")
    with pytest.raises(InputError) as err:
        check_permissions(["margin"], allow_withdraw=False)
    assert str(err.value) == "Unknown permission 'margin': use read, trade or withdraw"
    with pytest.raises(InputError) as err:
        check_permissions(["withdraw"], allow_withdraw=False)
    assert str(err.value).startswith("The withdraw permission needs --allow-withdraw")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("300.1.1.1", "Invalid IP address: 300.1.1.1"),
        ("example.com", "Invalid IP address: example.com"),
        ("10.0.0.0/33", "Invalid IP address or range: 10.0.0.0/33"),
        ("2001:db8::/32", "Invalid IP range: 2001:db8::/32 (HTX takes IPv4 ranges only)"),
        ("fe80::1%eth0", "Invalid IP address: fe80::1%eth0 (no zone ids)"),
    ],
)
def test_bad_ips(value: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        check_ips([value])
    assert str(err.value) == message


def test_twenty_ips_fine_twenty_one_refused() -> None:
    twenty = [f"10.0.0.{i}" for i in range(1, 21)]
    assert len(check_ips(twenty)) == 20
    with pytest.raises(InputError) as err:
        check_ips([",".join([*twenty, "10.0.0.99"])])
    assert str(err.value) == "21 IP addresses given; HTX links at most 20 to one key"
