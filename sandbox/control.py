"""Switch the replica's faults while it runs, over HTTP, from this machine only.

A test drives an in-process sandbox through `srv.faults`; a separately started `htx-keys
sandbox` is driven through these calls under the private `/-/sandbox/` prefix:

- `GET /-/sandbox/faults`: the current faults, a JSON object (sandbox/faults.py's fields);
- `POST /-/sandbox/faults` with a JSON object of fields to change: all or none are applied;
  the answer is the faults after the change (400 with `error` naming the bad field);
- `DELETE /-/sandbox/faults`: every fault off (the latency stays as started);
- `GET /-/sandbox/calls`: how often each key page call was made (`state.calls`).

They answer only a client on a loopback address that also named a loopback host (so a web
page the user visits cannot reach them through DNS rebinding), and a POST must be
`application/json` (so another site's form cannot post one without a CORS preflight, which
is never granted). Anything else is 403 `{"error": ...}`.
"""

from __future__ import annotations

import ipaddress
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.web import ctx_of

PREFIX = "/-/sandbox"
LOOPBACK_NAMES = ("localhost", "localhost.")
NOT_LOOPBACK = "the sandbox's controls answer only on a loopback address (127.0.0.1, ::1)"


def control_routes() -> list[Route]:
    return [
        Route(f"{PREFIX}/faults", faults_endpoint, methods=["GET", "POST", "DELETE"]),
        Route(f"{PREFIX}/calls", calls_endpoint, methods=["GET"]),
    ]


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):  # [::1]:8400
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _refusal(request: Request) -> Response | None:
    client = request.client.host if request.client else None
    host = _host_name(request).lower()
    if not is_loopback(client) or not (host in LOOPBACK_NAMES or is_loopback(host)):
        return _answer({"error": NOT_LOOPBACK}, 403)
    return None


def _answer(data: object, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status, headers={"Cache-Control": "no-store"})


async def faults_endpoint(request: Request) -> Response:
    refused = _refusal(request)
    if refused is not None:
        return refused
    faults = ctx_of(request).config.faults
    if request.method == "DELETE":
        faults.reset()
    elif request.method == "POST":
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _answer({"error": "send the changes as application/json"}, 415)
        try:
            changes = json.loads(await request.body())
        except ValueError:
            return _answer({"error": "the body is not JSON"}, 400)
        if not isinstance(changes, dict):
            return _answer({"error": "send a JSON object of the faults to change"}, 400)
        try:
            faults.update(changes)
        except ValueError as exc:
            return _answer({"error": str(exc)}, 400)
    return _answer(faults.as_dict())


async def calls_endpoint(request: Request) -> Response:
    refused = _refusal(request)
    if refused is not None:
        return refused
    state = ctx_of(request).state
    with state.lock:
        return _answer(dict(state.calls))
