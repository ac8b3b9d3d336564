"""The key pages' JSON calls under the switchable faults (sandbox/faults.py).

Each call the faults can name (faults.CALLS: create, send, confirm, delete, list) is wrapped
here: counted in `state.calls` (so a test can tell that a key was asked for once), answered
late, failed with a 5xx before or after doing its work, refused as rate-limited or with a GA code
taken for wrong, and followed by the end of the account's sessions. Faults are read when a
call arrives, so a change made while the server runs applies to the next call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from sandbox import texts
from sandbox.accounts import Account
from sandbox.errors import Refused
from sandbox.faults import CALLS, Faults
from sandbox.login_state import WRONG_GA
from sandbox.web import Body, Handler, ctx_of

SYSTEM_BUSY = "System busy, please try again later"
# The calls that pass a Security Authentication (the GA code fault refuses only these).
GA_CALLS = ("confirm", "delete")


def faulty(call: str, handler: Handler) -> Handler:
    """`handler` as the page call `call`, under the current faults."""
    if call not in CALLS:
        raise ValueError(f"unknown page call {call!r}")

    async def wrapped(request: Request, account: Account | None, body: Body) -> Any:
        ctx = ctx_of(request)
        faults = ctx.config.faults
        with ctx.state.lock:
            ctx.state.calls[call] += 1
        failing = faults.fail_call == call
        if failing and not faults.fail_after_work:
            raise _server_error(faults)
        if call == "send" and faults.take("send_rate_limited"):
            raise Refused(texts.SEND_RATE_LIMITED, field="emailCode", status=429)
        if call in GA_CALLS and faults.take("refuse_ga"):
            raise Refused(WRONG_GA, field="gaCode")
        try:
            result = await handler(request, account, body)
        finally:
            if faults.expire_session_after == call and account is not None:
                faults.expire_session_after = ""
                ctx.state.expire_sessions(account.email)
        # Slow answers: the work is done when the call arrives (a GA code is checked while it
        # is fresh), the answer comes late, or never to a browser that has gone meanwhile.
        delay = faults.slow_calls.get(call, 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if failing:
            raise _server_error(faults)
        return result

    return wrapped


def _server_error(faults: Faults) -> Refused:
    """The 5xx answer, spending one of `fail_times` (the fault ends with the last one)."""
    status = faults.fail_status
    if faults.fail_times > 0:
        faults.fail_times -= 1
        if faults.fail_times == 0:
            faults.fail_call = ""
    return Refused(SYSTEM_BUSY, status=status)
