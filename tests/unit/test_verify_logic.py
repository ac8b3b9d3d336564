from pathlib import Path
from typing import Any

import pytest

from automation.errors import ConfigError, InputError
from automation.store import KeyRecord, open_store
from flows.htx.limits import check_request
from flows.htx.rest import api_host, htx_permissions, our_permissions
from flows.htx.verify import Verification, differences, read_back_of, same_addresses
from htx_keys.app.output import key_summary, render
from htx_keys.app.subuser import check_sub_user_request, pick_parent


def record(**changes: Any) -> KeyRecord:
    values: dict[str, Any] = dict(
        access_key="aaaaaaaa-bbbbbbbb-cccccccc-ddddd",
        secret_key="11111111-22222222-33333333-44444",
        account="parent@example.test",
        note="bot",
        permissions=["read", "trade"],
        ip_addresses=["192.168.0.1/24", "10.0.0.7"],
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
    )
    values.update(changes)
    return KeyRecord(**values)


def test_permission_names_both_ways() -> None:
    assert htx_permissions(["read", "trade"]) == "readOnly,trade"
    assert our_permissions("readOnly,trade") == ["read", "trade"]
    assert our_permissions("readOnly, withdraw") == ["read", "withdraw"]


def test_addresses_compare_as_networks() -> None:
    assert same_addresses(["192.168.0.1/24", "10.0.0.7"], ["10.0.0.7/32", "192.168.0.0/24"])
    assert same_addresses(["2001:DB8::1"], ["2001:db8::1"])
    assert not same_addresses(["10.0.0.7"], ["10.0.0.8"])
    assert same_addresses([], [""])


def test_read_back_matches() -> None:
    entry = {
        "accessKey": "aaaaaaaa-bbbbbbbb-cccccccc-ddddd",
        "note": "bot",
        "permission": "readOnly,trade",
        "ipAddresses": "192.168.0.0/24,10.0.0.7",
        "validDays": -1,
        "status": "normal",
    }
    back = read_back_of(entry)
    assert back == {
        "note": "bot",
        "permissions": ["read", "trade"],
        "ip_addresses": ["192.168.0.0/24", "10.0.0.7"],
        "valid_days": -1,
        "status": "normal",
    }
    assert differences(record(), back) == []


def test_differences_are_named() -> None:
    back = {
        "note": "other",
        "permissions": ["read"],
        "ip_addresses": [],
        "valid_days": 90,
        "status": "expired",
    }
    assert differences(record(), back) == [
        "note is 'other', not 'bot'",
        "permissions are read, not read, trade",
        "bound IPs are none, not 192.168.0.1/24, 10.0.0.7",
        "status is expired",
    ]


def test_api_url_must_be_a_bare_origin() -> None:
    assert api_host("http://127.0.0.1:8400") == ("http", "127.0.0.1:8400")
    assert api_host("https://API.huobi.pro/") == ("https", "api.huobi.pro")
    with pytest.raises(ConfigError):
        api_host("api.huobi.pro")
    with pytest.raises(ConfigError):
        api_host("https://api.huobi.pro/v1")


def test_sub_user_keys_cannot_withdraw() -> None:
    with pytest.raises(InputError) as err:
        check_sub_user_request(check_request("n", ["withdraw"], [], allow_withdraw=True))
    assert str(err.value) == "Sub-user keys can have the read and trade permissions only"


def test_pick_parent(tmp_path: Path) -> None:
    store = open_store(f"json:{tmp_path / 'k.json'}")
    with pytest.raises(ConfigError, match=r"No stored key of parent@example\.test with Trade"):
        pick_parent(store, "parent@example.test", None)
    old = record(access_key="0ld00000-00000000-00000000-00000", created_at="2026-01-01T00:00:00Z")
    new = record(access_key="ne000000-00000000-00000000-00000", created_at="2026-06-01T00:00:00Z")
    reader = record(
        access_key="re000000-00000000-00000000-00000",
        permissions=["read"],
        created_at="2026-09-01T00:00:00Z",
    )
    sub = record(
        access_key="5ub00000-00000000-00000000-00000", sub_uid=7, created_at="2026-10-01T00:00:00Z"
    )
    other = record(
        access_key="07h00000-00000000-00000000-00000",
        account="x@example.test",
        created_at="2026-10-02T00:00:00Z",
    )
    for r in (old, new, reader, sub, other):
        store.save(r)
    assert pick_parent(store, "parent@example.test", None).access_key == new.access_key
    assert pick_parent(store, "parent@example.test", None, need_trade=False).access_key == (
        reader.access_key
    )
    assert pick_parent(store, "parent@example.test", old.access_key).access_key == old.access_key
    with pytest.raises(InputError, match="is a sub-user's key"):
        pick_parent(store, "parent@example.test", sub.access_key)
    with pytest.raises(InputError, match="has no Trade permission"):
        pick_parent(store, "parent@example.test", reader.access_key)


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"ip_addresses": [], "expires_at": "2027-02-19T10:00:00Z"},
            "  expires       2027-02-19T10:00:00Z if unused (90 days without a call; "
            "each use restarts them)",
        ),
        ({"ip_addresses": [], "permissions": ["read"]}, "  expires       never (a read-only key "
                                                        "without IP addresses)"),
        ({}, "  expires       never (IP addresses bound)"),
    ],
)  # fmt: skip
def test_the_expiry_is_shown_as_the_estimate_it_is(changes: dict[str, Any], line: str) -> None:
    text = render(key_summary(record(**changes), "keyring"), "text")
    assert line in text.splitlines(), text


def test_htx_own_valid_days_are_shown_when_read_back() -> None:
    back = read_back_of({"note": "bot", "permission": "readOnly,trade", "validDays": 87})
    summary = key_summary(record(), "keyring", Verification("ok", "", back))
    assert "  HTX says      87 days left (validDays, HTX's own count)" in render(summary, "text")
