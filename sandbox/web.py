"""What the sandbox's JSON calls share: the app context, the answer envelope, body parsing,
sessions and sending codes by mail. Used by sandbox/app.py and sandbox/login_routes.py.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from sandbox.accounts import Account
from sandbox.config import SandboxConfig
from sandbox.errors import Refused
from sandbox.mailer import Mailer, build_verification_mail, log_failure
from sandbox.state import SandboxState

SESSION_COOKIE = "HB-PRO-TOKEN"
HOME = "/en-us/"
LOGIN = "/en-us/login/"
SEND_FAILED = "Failed to send the verification code, please try again later"
LOGIN_FIRST = "Please log in first"
BAD_REQUEST = "Invalid request"
# The new-device mail's subject; the body is the usual verification mail.
LOGIN_MAIL_SUBJECT = "[HTX] New device login verification"

Body = dict[str, Any]
Handler = Callable[[Request, Account | None, Body], Awaitable[Any]]


@dataclass
class Ctx:
    config: SandboxConfig
    state: SandboxState
    mailer: Mailer
    templates: Jinja2Templates


def ctx_of(request: Request) -> Ctx:
    ctx: Ctx = request.app.state.ctx
    return ctx


def current_account(request: Request) -> Account | None:
    """The logged-in account; None without a session or with an expired or ended one."""
    return ctx_of(request).state.session_account(request.cookies.get(SESSION_COOKIE))


def safe_back_url(value: str | None) -> str:
    # Only same-site paths: "//evil.example" and "/\\evil.example" are other hosts to a browser.
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return HOME
    return value


def api(handler: Handler, *, login: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: latency, login check, JSON body, and the site's answer envelope."""

    async def endpoint(request: Request) -> Response:
        ctx = ctx_of(request)
        latency = ctx.config.faults.latency_ms
        if latency > 0:
            await asyncio.sleep(random.uniform(0.5, 1.5) * latency / 1000)
        try:
            account = current_account(request)
            if login and account is None:
                raise Refused(LOGIN_FIRST, status=401)
            body = await json_body(request) if request.method == "POST" else {}
            result = await handler(request, account, body)
        except Refused as exc:
            return JSONResponse(
                {
                    "code": exc.status,
                    "success": False,
                    "message": exc.message,
                    "field": exc.field,
                    "errors": exc.errors,
                },
                status_code=exc.status,
                headers={"Cache-Control": "no-store"},
            )
        if isinstance(result, Response):
            return result
        return ok(result)

    return endpoint


def ok(data: Any = None) -> JSONResponse:
    return JSONResponse(
        {"code": 200, "success": True, "data": data}, headers={"Cache-Control": "no-store"}
    )


async def json_body(request: Request) -> Body:
    # Requiring JSON also means a cross-site form cannot post here without a CORS preflight.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Refused(BAD_REQUEST, status=415)
    try:
        data = await request.json()
    except ValueError as exc:
        raise Refused(BAD_REQUEST) from exc
    if not isinstance(data, dict):
        raise Refused(BAD_REQUEST)
    return data


def text(body: Body, key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def need(account: Account | None) -> Account:
    if account is None:  # the wrapper has checked already; this narrows the type
        raise Refused(LOGIN_FIRST, status=401)
    return account


def logged_in(request: Request, token: str, data: Any) -> Response:
    """The answer that ends a login: the session cookie, for as long as the session lives."""
    response = ok(data)
    ttl = math.ceil(ctx_of(request).config.session_ttl_s)
    response.set_cookie(SESSION_COOKIE, token, max_age=ttl, httponly=True, samesite="lax", path="/")
    return response


async def mail_code(
    request: Request, user: Account, purpose: str, code: str, *, later_s: float = 0.0
) -> None:
    """Build, record and deliver a verification mail (`later_s` seconds later than the faults
    say); on failure withdraw the code and refuse."""
    ctx = ctx_of(request)
    msg = build_verification_mail(
        code, purpose, user.mailbox, ctx.config.mail_from, ctx.state.now()
    )
    if purpose == "login":
        msg.replace_header("Subject", LOGIN_MAIL_SUBJECT)
    rcpt = user.deliver_to or user.mailbox
    if user.deliver_to:
        # An alias expanded on the way, as Postfix marks it: the address the mail was sent to.
        msg["X-Original-To"] = user.mailbox
    ctx.state.record_mail(user.mailbox, msg)
    try:
        await run_in_threadpool(ctx.mailer.send, msg, rcpt, later_s)
    except Exception as exc:  # any failure to deliver is the page's "failed to send"
        log_failure(ctx.config.mail_target, rcpt, exc)
        ctx.state.withdraw_email_code(user, purpose, code)
        raise Refused(SEND_FAILED, field="emailCode", status=502) from exc
