"""The replica's SMS outbox as an SMS gateway's API would show it, to programs on this machine.

There is no real SMS: a code "texted" to an account's phone lands in `state.sms_outbox`. A
code command (HTX_KEYS_CODE_COMMAND) that reads an SMS gateway in real life reads this in
tests and by hand:

    GET /-/sandbox/sms[?to=PHONE][&since=ISO-8601]
    -> {"messages": [{"to": "+86 13812345678", "text": "[HTX] ... 123456 ...",
                      "sent_at": "2026-01-01T12:00:00Z"}, ...]}   oldest first

`to` matches the phone number whatever its spaces or dashes; `since` keeps messages sent at
or after that instant (whole seconds, as `sent_at` shows them). Only loopback clients get an
answer: anyone who can read it can read every account's codes.
"""

from __future__ import annotations

import datetime as dt
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from automation.hosts import is_loopback_host
from sandbox.web import ctx_of

SMS_PATH = "/-/sandbox/sms"
# The wording of HTX's SMS is not known [I]: a plain one with the code and its lifetime.
SMS_TEXT = "[HTX] Your verification code is {code}. It is valid for 10 minutes. Never share it."
NO_STORE = {"Cache-Control": "no-store"}


def routes() -> list[Route]:
    return [Route(SMS_PATH, sms_outbox, methods=["GET"])]


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(int(when), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def sms_outbox(request: Request) -> Response:
    client = request.client.host if request.client else ""
    if not is_loopback_host(client):
        return JSONResponse(
            {"error": "the SMS outbox answers only on this machine"}, 403, headers=NO_STORE
        )
    to = _digits(request.query_params.get("to", ""))
    since = None
    if "since" in request.query_params:
        try:
            since = dt.datetime.fromisoformat(request.query_params["since"])
        except ValueError:
            return JSONResponse(
                {"error": "since must be an ISO 8601 time, e.g. 2026-01-01T12:00:00Z"},
                400,
                headers=NO_STORE,
            )
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
    state = ctx_of(request).state
    with state.lock:
        sent = list(state.sms_outbox)
    messages = [
        {"to": sms.phone, "text": SMS_TEXT.format(code=sms.code), "sent_at": _iso(sms.sent_at)}
        for sms in sent
        if (not to or _digits(sms.phone) == to)
        and (since is None or int(sms.sent_at) >= since.timestamp())
    ]
    return JSONResponse({"messages": messages}, headers=NO_STORE)
