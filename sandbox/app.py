"""The sandbox web app: HTML pages plus the JSON calls their scripts make under /-/x/web/.

Pages are rendered on the server; each step of login and every dialog is drawn by page
JavaScript from JSON answers, as on the live site, so the flow meets the same timing.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sandbox.accounts import Account
from sandbox.faults import Faults
from sandbox.mailer import Mailer, MailTarget, build_verification_mail, log_failure
from sandbox.rest import RestApi
from sandbox.state import (
    MAX_IPS,
    MAX_KEYS,
    MAX_NOTE,
    NO_IP_VALID_DAYS,
    PURPOSES,
    RESEND_AFTER_S,
    ApiKey,
    Refused,
    SandboxState,
    mask_email,
    parse_key_request,
)

log = logging.getLogger("sandbox.app")

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "HB-PRO-TOKEN"
HOME = "/en-us/"
LOGIN = "/en-us/login/"
APIKEY = "/en-us/apikey/"
SYSTEM_BUSY = "System busy, please try again later"
SEND_FAILED = "Failed to send the verification code, please try again later"
LOGIN_FIRST = "Please log in first"
BAD_REQUEST = "Invalid request"
# Everything the pages need is served from here: no inline script, no third-party origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class SandboxConfig:
    accounts: list[Account]
    mail_target: MailTarget | None = None
    mail_from: str = "HTX <noreply@htx.com>"
    faults: Faults = field(default_factory=Faults)


@dataclass
class _Ctx:
    config: SandboxConfig
    state: SandboxState
    mailer: Mailer
    templates: Jinja2Templates


def create_app(config: SandboxConfig, state: SandboxState | None = None) -> Starlette:
    """The ASGI app; pass `state` to share one (e.g. built with a test clock)."""
    ctx = _Ctx(
        config=config,
        state=state if state is not None else SandboxState(config.accounts),
        mailer=Mailer(config.mail_target, config.faults),
        templates=Jinja2Templates(directory=str(HERE / "templates")),
    )
    routes = [
        Route("/", lambda _r: RedirectResponse(HOME, 302)),
        Route(HOME, home_page),
        Route(LOGIN, login_page),
        Route("/en-us/register/", register_page),
        Route("/en-us/overview/", overview_page),
        Route(APIKEY, apikey_page),
        Route("/-/health", lambda _r: PlainTextResponse("ok")),
        Route("/-/x/web/login/password", _api(login_password, login=False), methods=["POST"]),
        Route("/-/x/web/login/ga", _api(login_ga, login=False), methods=["POST"]),
        Route("/-/x/web/logout", _api(logout, login=False), methods=["POST"]),
        Route("/-/x/web/apikey/list", _api(list_keys), methods=["GET"]),
        Route("/-/x/web/apikey/precheck", _api(precheck), methods=["POST"]),
        Route("/-/x/web/apikey/create", _api(create_key), methods=["POST"]),
        Route("/-/x/web/apikey/delete", _api(delete_key), methods=["POST"]),
        Route("/-/x/web/verify/email/send", _api(send_email_code), methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        # HTX's signed REST API on the same origin, over the same state (sandbox/rest.py).
        *RestApi(ctx.state).routes(),
    ]
    app = Starlette(routes=routes)
    app.state.ctx = ctx
    return app


def _ctx(request: Request) -> _Ctx:
    ctx: _Ctx = request.app.state.ctx
    return ctx


def _account(request: Request) -> Account | None:
    return _ctx(request).state.session_account(request.cookies.get(SESSION_COOKIE))


# -- pages -----------------------------------------------------------------------------------


def _render(request: Request, name: str, **context: Any) -> Response:
    context.setdefault("account", _account(request))
    return _ctx(request).templates.TemplateResponse(request, name, context, headers=PAGE_HEADERS)


def _to_login(request: Request) -> Response:
    return RedirectResponse(f"{LOGIN}?backUrl={quote(request.url.path)}", 302)


def _safe_back_url(value: str | None) -> str:
    # Only same-site paths: "//evil.example" and "/\\evil.example" are other hosts to a browser.
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return HOME
    return value


async def home_page(request: Request) -> Response:
    return _render(request, "home.html", title="HTX")


async def register_page(request: Request) -> Response:
    return _render(request, "register.html", title="Sign Up | HTX")


async def login_page(request: Request) -> Response:
    back = _safe_back_url(request.query_params.get("backUrl"))
    if _account(request) is not None:
        return RedirectResponse(back, 302)
    return _render(request, "login.html", title="Log In | HTX", back_url=back)


async def overview_page(request: Request) -> Response:
    account = _account(request)
    if account is None:
        return _to_login(request)
    keys = _ctx(request).state.keys_for(account.email)
    return _render(
        request,
        "overview.html",
        title="Overview | HTX",
        account=account,
        masked_email=mask_email(account.email),
        key_count=len(keys),
    )


async def apikey_page(request: Request) -> Response:
    account = _account(request)
    if account is None:
        return _to_login(request)
    state = _ctx(request).state
    now = state.now()
    rows = [_row(k, now) for k in state.keys_for(account.email)]
    return _render(
        request,
        "apikey.html",
        title="API Management | HTX",
        account=account,
        rows=rows,
        masked_mailbox=mask_email(account.mailbox),
        max_keys=MAX_KEYS,
        max_ips=MAX_IPS,
        max_note=MAX_NOTE,
        no_ip_days=NO_IP_VALID_DAYS,
        resend={p: state.resend_in(account, p) for p in PURPOSES},
    )


def _row(key: ApiKey, now: Any) -> dict[str, str]:
    days = key.valid_days_at(now)
    return {
        "created": key.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "note": key.note,
        "permissions": key.permission_labels,
        "access_key": key.access_key,
        "ips": ", ".join(key.ip_addresses) or "--",
        "valid": "Permanent" if days < 0 else str(days),
        "status": key.status_at(now).capitalize(),
    }


# -- JSON calls ------------------------------------------------------------------------------

Body = dict[str, Any]
Handler = Callable[[Request, Account | None, Body], Awaitable[Any]]


def _api(handler: Handler, *, login: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: latency, login check, JSON body, and the site's answer envelope."""

    async def endpoint(request: Request) -> Response:
        ctx = _ctx(request)
        latency = ctx.config.faults.latency_ms
        if latency > 0:
            await asyncio.sleep(random.uniform(0.5, 1.5) * latency / 1000)
        try:
            account = _account(request)
            if login and account is None:
                raise Refused(LOGIN_FIRST, status=401)
            body = await _json_body(request) if request.method == "POST" else {}
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
        return _ok(result)

    return endpoint


def _ok(data: Any = None) -> JSONResponse:
    return JSONResponse(
        {"code": 200, "success": True, "data": data}, headers={"Cache-Control": "no-store"}
    )


async def _json_body(request: Request) -> Body:
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


def _text(body: Body, key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


def _need(account: Account | None) -> Account:
    if account is None:  # the wrapper has checked already; this narrows the type
        raise Refused(LOGIN_FIRST, status=401)
    return account


async def login_password(request: Request, _account: Account | None, body: Body) -> Any:
    ticket = _ctx(request).state.check_password(_text(body, "account"), _text(body, "password"))
    return {"ticket": ticket, "verify": "ga"}


async def login_ga(request: Request, _account: Account | None, body: Body) -> Any:
    token = _ctx(request).state.finish_login(_text(body, "ticket"), _text(body, "gaCode").strip())
    response = _ok({"redirect": _safe_back_url(_text(body, "backUrl"))})
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/")
    return response


async def logout(request: Request, _account: Account | None, _body: Body) -> Any:
    _ctx(request).state.end_session(request.cookies.get(SESSION_COOKIE))
    response = _ok({"redirect": HOME})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def list_keys(request: Request, account: Account | None, _body: Body) -> Any:
    state = _ctx(request).state
    now = state.now()
    # The secret key is never part of any answer after the one that created it.
    return [
        {
            "accessKey": k.access_key,
            "note": k.note,
            "permission": k.permission_text,
            "ipAddresses": ",".join(k.ip_addresses),
            "validDays": k.valid_days_at(now),
            "status": k.status_at(now),
            "createTime": int(k.created_at.timestamp() * 1000),
        }
        for k in state.keys_for(_need(account).email)
    ]


async def precheck(request: Request, account: Account | None, body: Body) -> Any:
    errors: dict[str, str] = {}
    try:
        req = parse_key_request(body.get("note"), body.get("permissions"), body.get("ips"))
    except Refused as exc:
        errors.update(exc.errors)
    try:
        _ctx(request).state.check_room(_need(account))
    except Refused as exc:
        errors.update(exc.errors)
    if errors:
        raise Refused(errors)
    return {
        "note": req.note,
        "permissions": list(req.permissions),
        "ipAddresses": list(req.ip_addresses),
    }


async def send_email_code(request: Request, account: Account | None, body: Body) -> Any:
    ctx = _ctx(request)
    user = _need(account)
    purpose = _text(body, "purpose")
    code = ctx.state.issue_email_code(user, purpose)
    msg = build_verification_mail(
        code, purpose, user.mailbox, ctx.config.mail_from, ctx.state.now()
    )
    ctx.state.record_mail(user.mailbox, msg)
    try:
        await run_in_threadpool(ctx.mailer.send, msg, user.mailbox)
    except Exception as exc:  # any failure to deliver is the page's "failed to send"
        log_failure(ctx.config.mail_target, user.mailbox, exc)
        ctx.state.withdraw_email_code(user, purpose, code)
        raise Refused(SEND_FAILED, field="emailCode", status=502) from exc
    return {"maskedEmail": mask_email(user.mailbox), "resendIn": RESEND_AFTER_S}


async def create_key(request: Request, account: Account | None, body: Body) -> Any:
    ctx = _ctx(request)
    if ctx.config.faults.fail_create:
        raise Refused(SYSTEM_BUSY, status=500)
    req = parse_key_request(body.get("note"), body.get("permissions"), body.get("ips"))
    key = ctx.state.create_key(
        _need(account), req, _text(body, "emailCode").strip(), _text(body, "gaCode").strip()
    )
    log.info("API key created for uid %s", key.uid)
    return {
        "accessKey": key.access_key,
        "secretKey": key.secret_key,
        "note": key.note,
        "permission": key.permission_text,
        "ipAddresses": ",".join(key.ip_addresses),
        "validDays": key.valid_days_at(ctx.state.now()),
    }


async def delete_key(request: Request, account: Account | None, body: Body) -> Any:
    ctx = _ctx(request)
    key = ctx.state.delete_key(
        _need(account),
        _text(body, "accessKey"),
        _text(body, "emailCode").strip(),
        _text(body, "gaCode").strip(),
    )
    log.info("API key deleted for uid %s", key.uid)
    return None
