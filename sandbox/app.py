"""The sandbox web app: HTML pages plus the JSON calls their scripts make under /-/x/web/.

Pages are a shell rendered on the server; what they show of the account (the key table), each
step of login and every dialog are drawn by page JavaScript from JSON answers, as on the live
single-page app, so the flow meets the same timing. The "obscure" markup (sandbox/markup.py)
is a rewrite of the rendered page.
The login calls are in sandbox/login_routes.py, the helpers all calls share in sandbox/web.py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sandbox import login_routes, outbox, texts
from sandbox.accounts import Account, mask_phone
from sandbox.codes import RESEND_AFTER_S
from sandbox.config import SandboxConfig
from sandbox.control import control_routes
from sandbox.devices import DeviceCookie
from sandbox.fault_calls import faulty
from sandbox.mailer import Mailer
from sandbox.markup import obscure_css, obscure_html
from sandbox.relabel import Relabel
from sandbox.rest import RestApi
from sandbox.state import (
    MAX_IPS,
    MAX_KEYS,
    MAX_NOTE,
    NO_IP_VALID_DAYS,
    PURPOSES,
    Refused,
    SandboxState,
    mask_email,
    parse_key_request,
)
from sandbox.web import (
    HOME,
    LOGIN,
    Body,
    Ctx,
    api,
    ctx_of,
    current_account,
    mail_code,
    need,
    safe_back_url,
    text,
)

log = logging.getLogger("sandbox.app")

HERE = Path(__file__).resolve().parent
APIKEY = "/en-us/apikey/"
# How long after the first code the resend_mail fault's newer code is mailed.
RESEND_GAP_S = 1.5
# Everything the pages need is served from here: no inline script, no third-party origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(config: SandboxConfig, state: SandboxState | None = None) -> Starlette:
    """The ASGI app; pass `state` to share one (e.g. built with a test clock)."""
    if state is None:
        state = SandboxState(config.accounts, totp_step_s=config.totp_step_s)
    elif state.totp_step_s != config.totp_step_s:
        # The state records used GA steps in its own unit: it cannot follow another config.
        raise ValueError(
            f"the state's TOTP step ({state.totp_step_s} s) differs from the config's "
            f"({config.totp_step_s} s)"
        )
    ctx = Ctx(
        config=config,
        state=state,
        mailer=Mailer(config.mail_target, config.faults),
        templates=Jinja2Templates(directory=str(HERE / "templates")),
    )
    ctx.templates.env.globals["T"] = texts
    routes = [
        Route("/", lambda _r: RedirectResponse(HOME, 302)),
        Route(HOME, home_page),
        Route(LOGIN, login_page),
        Route("/en-us/register/", register_page),
        Route("/en-us/overview/", overview_page),
        Route(APIKEY, apikey_page),
        Route("/-/health", lambda _r: PlainTextResponse("ok")),
        *outbox.routes(),  # the SMS outbox, for programs on this machine
        # Faults switched at run time, from this machine only (sandbox/control.py).
        *control_routes(),
        *login_routes.routes(),
        Route("/-/x/web/apikey/list", api(faulty("list", list_keys)), methods=["GET"]),
        Route("/-/x/web/apikey/precheck", api(faulty("create", precheck)), methods=["POST"]),
        Route("/-/x/web/apikey/create", api(faulty("confirm", create_key)), methods=["POST"]),
        Route("/-/x/web/apikey/delete", api(faulty("delete", delete_key)), methods=["POST"]),
        Route("/-/x/web/verify/email/send", api(faulty("send", send_email_code)), methods=["POST"]),
        Route("/-/x/web/verify/sms/send", api(send_sms_code), methods=["POST"]),
        Route("/static/style.css", stylesheet),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
        # HTX's signed REST API on the same origin, over the same state (sandbox/rest.py).
        *RestApi(ctx.state, config).routes(),
    ]
    # Relabel: renamed labels (a fault for tests), as when HTX changes its pages.
    middleware = [Middleware(DeviceCookie), Middleware(Relabel, faults=config.faults)]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.ctx = ctx
    return app


# -- pages -----------------------------------------------------------------------------------


def _render(request: Request, name: str, **context: Any) -> Response:
    ctx = ctx_of(request)
    faults = ctx.config.faults
    context.setdefault("account", current_account(request))
    context.update(
        markup=ctx.config.markup,
        # First visit of this browser: the cookie banner and the announcement.
        show_consent=texts.CONSENT_COOKIE not in request.cookies,
        show_notice=texts.NOTICE_COOKIE not in request.cookies,
        # The theme switch's choice; without one the style follows prefers-color-scheme.
        theme=theme if (theme := request.cookies.get(texts.THEME_COOKIE)) in texts.THEMES else "",
        notice_delay_ms=faults.latency_ms,
        unknown_overlay=faults.unknown_overlay,
    )
    response = ctx.templates.TemplateResponse(request, name, context, headers=PAGE_HEADERS)
    if ctx.config.markup == "plain":
        return response
    html = obscure_html(bytes(response.body).decode("utf-8"))
    return HTMLResponse(html, headers=PAGE_HEADERS)


async def stylesheet(request: Request) -> Response:
    css = (HERE / "static" / "style.css").read_text(encoding="utf-8")
    if ctx_of(request).config.markup != "plain":
        css = obscure_css(css)
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-store"})


def _to_login(request: Request) -> Response:
    return RedirectResponse(f"{LOGIN}?backUrl={quote(request.url.path)}", 302)


async def home_page(request: Request) -> Response:
    return _render(request, "home.html", title="HTX")


async def register_page(request: Request) -> Response:
    return _render(request, "register.html", title="Sign Up | HTX")


async def login_page(request: Request) -> Response:
    back = safe_back_url(request.query_params.get("backUrl"))
    if current_account(request) is not None:
        return RedirectResponse(back, 302)
    return _render(request, "login.html", title="Log In | HTX", back_url=back)


async def overview_page(request: Request) -> Response:
    account = current_account(request)
    if account is None:
        return _to_login(request)
    keys = ctx_of(request).state.keys_for(account.email)
    return _render(
        request,
        "overview.html",
        title="Overview | HTX",
        account=account,
        masked_email=mask_email(account.email),
        key_count=len(keys),
    )


async def apikey_page(request: Request) -> Response:
    account = current_account(request)
    if account is None:
        return _to_login(request)
    state = ctx_of(request).state
    # The key table is not in the page: its script fetches /-/x/web/apikey/list.
    return _render(
        request,
        "apikey.html",
        title="API Management | HTX",
        account=account,
        masked_mailbox=mask_email(account.mailbox),
        max_keys=MAX_KEYS,
        max_ips=MAX_IPS,
        max_note=MAX_NOTE,
        no_ip_days=NO_IP_VALID_DAYS,
        resend={p: state.resend_in(account, p) for p in PURPOSES},
        sms=account.needs_sms,
        masked_phone=mask_phone(account.phone) if account.needs_sms else "",
        sms_resend={p: state.sms_resend_in(account, p) for p in PURPOSES},
    )


# -- JSON calls (login: sandbox/login_routes.py) --------------------------------------------


async def list_keys(request: Request, account: Account | None, _body: Body) -> Any:
    ctx = ctx_of(request)
    delay = ctx.config.faults.list_delay_s
    if delay > 0:
        await asyncio.sleep(delay)
    state = ctx.state
    now = state.now()
    # The secret key is never part of any answer after the one that created it. The table
    # shows the same facts in its own spelling (the *Text fields), as the server did before.
    return [
        {
            "accessKey": k.access_key,
            "note": k.note,
            "permission": k.permission_text,
            "permissionText": k.permission_labels,
            "ipAddresses": ",".join(k.ip_addresses),
            "validDays": k.valid_days_at(now),
            "status": k.status_at(now),
            "statusText": k.status_at(now).capitalize(),
            "createTime": int(k.created_at.timestamp() * 1000),
            "createText": k.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for k in state.keys_for(need(account).email)
    ]


async def precheck(request: Request, account: Account | None, body: Body) -> Any:
    errors: dict[str, str] = {}
    try:
        req = parse_key_request(body.get("note"), body.get("permissions"), body.get("ips"))
    except Refused as exc:
        errors.update(exc.errors)
    try:
        ctx_of(request).state.check_room(need(account))
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
    user = need(account)
    purpose = text(body, "purpose")
    ctx = ctx_of(request)
    code = ctx.state.issue_email_code(user, purpose)
    await mail_code(request, user, purpose, code)
    if ctx.config.faults.resend_mail:
        # The fault: a newer code replaces this one and follows it by mail a little later.
        newer = ctx.state.issue_email_code(user, purpose, again=True)
        await mail_code(request, user, purpose, newer, later_s=RESEND_GAP_S)
    return {"maskedEmail": mask_email(user.mailbox), "resendIn": RESEND_AFTER_S}


async def send_sms_code(request: Request, account: Account | None, body: Body) -> Any:
    user = need(account)
    ctx_of(request).state.issue_sms_code(user, text(body, "purpose"))
    return {"maskedPhone": mask_phone(user.phone), "resendIn": RESEND_AFTER_S}


async def create_key(request: Request, account: Account | None, body: Body) -> Any:
    ctx = ctx_of(request)
    req = parse_key_request(body.get("note"), body.get("permissions"), body.get("ips"))
    key = ctx.state.create_key(
        need(account),
        req,
        text(body, "emailCode").strip(),
        text(body, "gaCode").strip(),
        sms_code=text(body, "smsCode").strip(),
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
    ctx = ctx_of(request)
    key = ctx.state.delete_key(
        need(account),
        text(body, "accessKey"),
        text(body, "emailCode").strip(),
        text(body, "gaCode").strip(),
        sms_code=text(body, "smsCode").strip(),
    )
    log.info("API key deleted for uid %s", key.uid)
    return None
