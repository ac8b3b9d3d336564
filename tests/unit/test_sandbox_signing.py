"""Signature V2 as the sandbox checks it, against the independent signer in tests/support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.gateway import LOGIN_REQUIRED, MSG_BAD_TIME, MSG_VERIFICATION, SIGNATURE_NOT_VALID
from sandbox.signing import (
    SignatureRefused,
    canonical_query,
    check_signature,
    check_timestamp,
    encode,
    pre_sign_text,
    read_signed_parts,
    signature_for,
)
from tests.support.htx_sign import htx_timestamp, percent_encode, pre_sign, sign_request

NOW = datetime(2017, 5, 11, 15, 19, 30, tzinfo=UTC)
AK = "e2xxxxxx-99xxxxxx-84xxxxxx-7xxxx"
SK = "b0xxxxxx-c6xxxxxx-94xxxxxx-dxxxx"


def verify(method: str, host: str, path: str, query: dict[str, str], now: datetime = NOW) -> None:
    parts = read_signed_parts(method, list(query.items()), now)
    check_signature(SK, method, host, path, parts)


def refusal(exc: pytest.ExceptionInfo[SignatureRefused]) -> tuple[str, str]:
    return exc.value.code, exc.value.text


# -- the text that is signed -----------------------------------------------------------------


def test_pre_sign_text_has_the_reference_shape() -> None:
    params = {
        "AccessKeyId": AK,
        "SignatureMethod": "HmacSHA256",
        "SignatureVersion": "2",
        "Timestamp": "2017-05-11T15:19:30",
        "order-id": "1234567890",
    }
    expected = (
        "GET\napi.huobi.pro\n/v1/order/orders\n"
        f"AccessKeyId={AK}&SignatureMethod=HmacSHA256&SignatureVersion=2"
        "&Timestamp=2017-05-11T15%3A19%3A30&order-id=1234567890"
    )
    assert pre_sign_text("GET", "api.huobi.pro", "/v1/order/orders", params.items()) == expected
    assert pre_sign("GET", "api.huobi.pro", "/v1/order/orders", params) == expected


def test_encoding_is_upper_case_hex_and_keeps_only_unreserved() -> None:
    assert encode("2017-05-11T15:19:30") == "2017-05-11T15%3A19%3A30"
    assert encode("a b/c+d,e=é~_.-") == "a%20b%2Fc%2Bd%2Ce%3D%C3%A9~_.-"
    for text in (":", " ", "/", "+", ",", "é", "€", "a~b"):
        assert encode(text) == percent_encode(text)
        assert encode(text) == encode(text).replace("%2c", "%2C")  # never lower-case hex


def test_parameters_are_sorted_by_ascii_name() -> None:
    # Upper case sorts before lower case in ASCII: "Z" < "a".
    query = canonical_query([("b", "2"), ("a", "1"), ("Z", "0"), ("AccessKeyId", "k")])
    assert query == "AccessKeyId=k&Z=0&a=1&b=2"


def test_host_is_lower_cased_and_method_upper_cased() -> None:
    text = pre_sign_text("get", "API.Huobi.PRO", "/v2/user/uid", [])
    assert text.startswith("GET\napi.huobi.pro\n/v2/user/uid\n")


def test_signature_is_base64_of_the_raw_hmac_sha256_digest() -> None:
    signature = signature_for("secret", "GET\nh\n/p\n")
    assert len(signature) == 44 and signature.endswith("=")  # 32 bytes → 44 base64 chars


def test_sandbox_and_independent_signer_agree() -> None:
    query = sign_request("GET", "api.huobi.pro", "/v2/user/api-key", {"uid": 1}, AK, SK, NOW)
    assert query["Timestamp"] == "2017-05-11T15:19:30"
    unsigned = {k: v for k, v in query.items() if k != "Signature"}
    text = pre_sign_text("GET", "api.huobi.pro", "/v2/user/api-key", unsigned.items())
    assert signature_for(SK, text) == query["Signature"]
    verify("GET", "api.huobi.pro", "/v2/user/api-key", query)


def test_timestamp_format() -> None:
    assert htx_timestamp(NOW) == "2017-05-11T15:19:30"
    assert htx_timestamp(NOW.timestamp()) == "2017-05-11T15:19:30"


# -- what is signed for GET and POST -----------------------------------------------------------


def test_get_signs_every_query_parameter() -> None:
    query = sign_request(
        "GET", "h", "/v2/user/api-key", {"uid": "1", "accessKey": "x"}, AK, SK, NOW
    )
    verify("GET", "h", "/v2/user/api-key", query)
    query["accessKey"] = "y"  # a changed parameter breaks the signature
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/v2/user/api-key", query)
    assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_VERIFICATION)


def test_post_signs_only_the_four_auth_parameters() -> None:
    body = {"subUid": 1, "note": "not signed"}
    query = sign_request("POST", "h", "/v2/sub-user/api-key-deletion", body, AK, SK, NOW)
    assert set(query) == {
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
        "Signature",
    }
    parts = read_signed_parts("POST", [*query.items(), ("extra", "ignored")], NOW)
    assert [name for name, _ in parts.signed] == [
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
    ]
    check_signature(SK, "POST", "h", "/v2/sub-user/api-key-deletion", parts)
    # The same query signed for GET does not pass as a POST, nor the other way round.
    with pytest.raises(SignatureRefused):
        verify("GET", "h", "/v2/sub-user/api-key-deletion", query)


def test_host_with_port_must_match_the_host_header() -> None:
    query = sign_request("GET", "127.0.0.1:8080", "/v2/user/uid", {}, AK, SK, NOW)
    verify("GET", "127.0.0.1:8080", "/v2/user/uid", query)
    for other in ("127.0.0.1", "localhost:8080", "127.0.0.1:8081"):
        with pytest.raises(SignatureRefused) as exc:
            verify("GET", other, "/v2/user/uid", query)
        assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_VERIFICATION)


def test_host_case_does_not_matter() -> None:
    query = sign_request("GET", "API.huobi.pro", "/v2/user/uid", {}, AK, SK, NOW)
    verify("GET", "api.HUOBI.pro", "/v2/user/uid", query)


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["AccessKeyId", "Signature"])
def test_missing_key_or_signature_is_login_required(name: str) -> None:
    query = sign_request("GET", "h", "/p", {}, AK, SK, NOW)
    del query[name]
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/p", query)
    assert refusal(exc) == (LOGIN_REQUIRED, f"Parameter `{name}` is required.")
    query[name] = ""
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/p", query)
    assert exc.value.code == LOGIN_REQUIRED


@pytest.mark.parametrize(
    ("name", "value"),
    [("SignatureMethod", "HmacSHA1"), ("SignatureVersion", "1"), ("SignatureMethod", None)],
)
def test_other_signature_method_or_version_fails_verification(name: str, value: str | None) -> None:
    query = sign_request("GET", "h", "/p", {}, AK, SK, NOW)
    if value is None:
        del query[name]
    else:
        query[name] = value
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/p", query)
    assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_VERIFICATION)


def test_repeated_auth_parameter_is_refused() -> None:
    query = sign_request("GET", "h", "/p", {}, AK, SK, NOW)
    pairs = [*query.items(), ("AccessKeyId", "other")]
    with pytest.raises(SignatureRefused) as exc:
        read_signed_parts("GET", pairs, NOW)
    assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_VERIFICATION)


@pytest.mark.parametrize(
    "stamp",
    [
        "2017-05-11 15:19:30",
        "2017-05-11T15:19:30Z",
        "2017-05-11T15:19",
        "1494515970",
        "2017-13-11T15:19:30",
        "",
    ],
)
def test_badly_formatted_timestamp(stamp: str) -> None:
    query = sign_request("GET", "h", "/p", {}, AK, SK, stamp)
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/p", query)
    assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_BAD_TIME)


@pytest.mark.parametrize("offset_s", [-301, 301, -600, 3600])
def test_timestamp_more_than_five_minutes_off(offset_s: int) -> None:
    query = sign_request("GET", "h", "/p", {}, AK, SK, NOW + timedelta(seconds=offset_s))
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/p", query)
    assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_BAD_TIME)


@pytest.mark.parametrize("offset_s", [-300, 0, 300])
def test_timestamp_within_five_minutes(offset_s: int) -> None:
    stamp = htx_timestamp(NOW + timedelta(seconds=offset_s))
    assert check_timestamp(stamp, NOW) == NOW + timedelta(seconds=offset_s)


def test_wrong_secret_path_or_method_fails_verification() -> None:
    query = sign_request("GET", "h", "/v1/account/accounts", {}, AK, SK, NOW)
    parts = read_signed_parts("GET", list(query.items()), NOW)
    for secret, method, path in (
        ("x" + SK[1:], "GET", "/v1/account/accounts"),
        (SK, "GET", "/v1/account/Accounts"),
        (SK, "DELETE", "/v1/account/accounts"),
    ):
        with pytest.raises(SignatureRefused) as exc:
            check_signature(secret, method, "h", path, parts)
        assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_VERIFICATION)


def test_non_ascii_signature_is_refused_not_crashed() -> None:
    query = sign_request("GET", "h", "/p", {}, AK, SK, NOW)
    query["Signature"] = "é" * 44
    with pytest.raises(SignatureRefused) as exc:
        verify("GET", "h", "/p", query)
    assert refusal(exc) == (SIGNATURE_NOT_VALID, MSG_VERIFICATION)
