"""The device cookie `HB-DEVICE`: a random id that tells one browser from another.

Set on the first request a browser makes to a page or a page call, long-lived, HttpOnly. The
captcha's "new-session" mode and the new-device check go by it; login tickets and captcha
tokens are bound to it, so a step cannot be finished from another browser.
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEVICE_COOKIE = "HB-DEVICE"
# A year: long enough that a browser profile reused by the tool stays a known device.
DEVICE_COOKIE_MAX_AGE_S = 365 * 86400
SCOPE_KEY = "sandbox.device"
_DEVICE_ID = re.compile(r"^[0-9a-f]{32}$")
# The signed REST API and static files are not pages: no cookie for API clients or assets.
_SKIP_PREFIXES = ("/v1/", "/v2/", "/static/", "/-/health", "/-/sandbox/")


def new_device_id() -> str:
    return secrets.token_hex(16)


def device_of(conn: HTTPConnection) -> str:
    """The device id of this request (set by `DeviceCookie`); "" outside it."""
    value = conn.scope.get(SCOPE_KEY, "")
    return value if isinstance(value, str) else ""


class DeviceCookie:
    """ASGI middleware: read HB-DEVICE, or make one up and set it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(_SKIP_PREFIXES):
            await self.app(scope, receive, send)
            return
        current = Request(scope).cookies.get(DEVICE_COOKIE, "")
        if _DEVICE_ID.match(current):
            scope[SCOPE_KEY] = current
            await self.app(scope, receive, send)
            return
        # Unknown or malformed: a new device, known to the handlers of this very request.
        device = new_device_id()
        scope[SCOPE_KEY] = device
        cookie = (
            f"{DEVICE_COOKIE}={device}; Max-Age={DEVICE_COOKIE_MAX_AGE_S}; Path=/; HttpOnly; "
            "SameSite=Lax"
        )

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", cookie.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)
