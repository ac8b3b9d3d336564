"""How HTX's API gateway words its refusals, in the three forms seen over the years.

`live` is what HTX answers today: English, then the Chinese in square brackets
("Signature not valid: Verification failure [校验失败]"). `old` is the 2018 form, where the reason
after "Signature not valid: " is Chinese only ("Signature not valid: ip地址错误"). `chinese` is
the fully Chinese wording a Chinese-language account saw ("API签名无效: 校验失败"). The form is a
fault (`Faults.error_texts`), read on every answer, so a test can switch it while a server runs.
Sources for each text ([V]/[I]) are in sandbox/README.md.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

TEXT_FORMS = ("live", "old", "chinese")

SIGNATURE_NOT_VALID = "api-signature-not-valid"
LOGIN_REQUIRED = "login-required"
RATE_LIMITED = "base-request-exceed-frequency-limit"

# The live texts: the code raises with these and `worded` turns them into the asked-for form.
MSG_BAD_KEY = "Signature not valid: Incorrect Access key [Access key错误]"
MSG_VERIFICATION = "Signature not valid: Verification failure [校验失败]"
MSG_BAD_TIME = (
    "Signature not valid: Invalid submission time or incorrect time format "
    "[无效的提交时间，或时间格式错误]"
)
MSG_BAD_IP_PREFIX = "Signature not valid: Incorrect IP address [IP地址错误]"
MSG_BAD_IP = MSG_BAD_IP_PREFIX + ":{}"  # no space before the address, as HTX writes it
MSG_EXPIRED = "APIkey has expired"
MSG_NO_PERMISSION = "Signature not valid: API key has no permission [API Key没有权限]"
MSG_RATE_LIMITED = "Frequency of requests has exceeded the limit, please try again later"
MSG_MISSING = "Parameter `{}` is required."

# v2 endpoints: an invalidated or unknown key, and the rate limit.
CODE_INVALID_SIGNATURE = 1003
MSG_INVALID_SIGNATURE = "invalid signature"
CODE_RATE_LIMITED = 1006
MSG_V2_RATE_LIMITED = "Exceed rate limit"

_OLD = {
    MSG_BAD_KEY: "Signature not valid: Access key错误",
    MSG_VERIFICATION: "Signature not valid: 校验失败",
    MSG_BAD_TIME: "Signature not valid: 无效的提交时间",
    MSG_BAD_IP_PREFIX: "Signature not valid: ip地址错误",
    MSG_EXPIRED: "Signature not valid: API Key已过期",
    MSG_NO_PERMISSION: "Signature not valid: API Key没有权限",
}
_CHINESE_PREFIX = "API签名无效: "


def worded(text: str, form: str) -> str:
    """`text` (a live text) in `form`; texts without an older wording stay as they are."""
    if form == "live":
        return text
    base = MSG_BAD_IP_PREFIX if text.startswith(MSG_BAD_IP_PREFIX) else text
    old = _OLD.get(base)
    if old is None:
        return text
    if form == "chinese":
        return _CHINESE_PREFIX + old.removeprefix("Signature not valid: ")
    return old


def check_form(form: str) -> None:
    if form not in TEXT_FORMS:
        raise ValueError(f"error_texts must be one of {', '.join(TEXT_FORMS)}, not {form!r}")


def v1_ok(data: Any) -> JSONResponse:
    return JSONResponse({"status": "ok", "data": data})


def v1_error(code: str, text: str, status: int = 200) -> JSONResponse:
    # HTX answers gateway refusals with HTTP 200 and the error in the body (405 aside).
    body = {"status": "error", "err-code": code, "err-msg": text, "data": None}
    return JSONResponse(body, status_code=status)


def v2_ok(data: Any) -> JSONResponse:
    return JSONResponse({"code": 200, "data": data})


def v2_error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "data": None})
