"""The login page's JSON calls: password (with the slider captcha), GA code, new-device code.

Each step answers what comes next in `verify`: "captcha" (solve the slider, then send the
password again with the token), "ga" (the ticket for the GA step), "device" (an email code for
a browser the account has not seen). The session cookie is set only by the call that finishes
the login, so no step can be skipped by a browser that stops listening halfway.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from sandbox.accounts import Account
from sandbox.captcha import Drag
from sandbox.codes import RESEND_AFTER_S
from sandbox.devices import device_of
from sandbox.login_state import LOGIN_PURPOSE
from sandbox.state import mask_email
from sandbox.web import (
    HOME,
    SESSION_COOKIE,
    Body,
    api,
    ctx_of,
    logged_in,
    mail_code,
    ok,
    safe_back_url,
    text,
)


def routes() -> list[Route]:
    base = "/-/x/web/"
    return [
        Route(f"{base}login/password", api(login_password, login=False), methods=["POST"]),
        Route(f"{base}login/captcha", api(login_captcha, login=False), methods=["POST"]),
        Route(f"{base}login/ga", api(login_ga, login=False), methods=["POST"]),
        Route(f"{base}login/device/send", api(device_send, login=False), methods=["POST"]),
        Route(f"{base}login/device", api(device_confirm, login=False), methods=["POST"]),
        Route(f"{base}logout", api(logout, login=False), methods=["POST"]),
    ]


async def login_password(request: Request, _account: Account | None, body: Body) -> Any:
    ctx = ctx_of(request)
    start = ctx.state.start_login(
        text(body, "account"),
        text(body, "password"),
        device=device_of(request),
        captcha=ctx.config.captcha,
        captcha_token=text(body, "captchaToken"),
    )
    if start.captcha_id is not None:
        return {"verify": "captcha", "captchaId": start.captcha_id}
    return {"ticket": start.ticket, "verify": "ga"}


async def login_captcha(request: Request, _account: Account | None, body: Body) -> Any:
    token = ctx_of(request).state.solve_captcha(
        text(body, "captchaId"), device_of(request), Drag.from_body(body)
    )
    return {"captchaToken": token}


async def login_ga(request: Request, _account: Account | None, body: Body) -> Any:
    ctx = ctx_of(request)
    result = ctx.state.pass_login_ga(
        text(body, "ticket"),
        text(body, "gaCode").strip(),
        device=device_of(request),
        new_device_check=ctx.config.new_device_check,
        session_ttl_s=ctx.config.session_ttl_s,
    )
    if result.session is None:
        return {
            "verify": "device",
            "maskedEmail": mask_email(result.account.mailbox),
            # A login restarted within a minute of the last Send must still wait.
            "resendIn": ctx.state.resend_in(result.account, LOGIN_PURPOSE),
        }
    return logged_in(request, result.session, {"redirect": safe_back_url(text(body, "backUrl"))})


async def device_send(request: Request, _account: Account | None, body: Body) -> Any:
    state = ctx_of(request).state
    user, code = state.issue_login_code(text(body, "ticket"), device=device_of(request))
    await mail_code(request, user, LOGIN_PURPOSE, code)
    return {"maskedEmail": mask_email(user.mailbox), "resendIn": RESEND_AFTER_S}


async def device_confirm(request: Request, _account: Account | None, body: Body) -> Any:
    ctx = ctx_of(request)
    token = ctx.state.confirm_device(
        text(body, "ticket"),
        text(body, "emailCode").strip(),
        device=device_of(request),
        session_ttl_s=ctx.config.session_ttl_s,
    )
    return logged_in(request, token, {"redirect": safe_back_url(text(body, "backUrl"))})


async def logout(request: Request, _account: Account | None, _body: Body) -> Any:
    ctx_of(request).state.end_session(request.cookies.get(SESSION_COOKIE))
    response = ok({"redirect": HOME})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
