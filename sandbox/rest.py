"""HTX's REST API on the website's origin: Signature V2, accounts, balances, keys, sub-user keys.

Enough of the spot API for ccxt's `htx` class (load_markets, fetch_balance and the raw key
methods) to work unchanged against `http://127.0.0.1:PORT`. Keys are the state's: a key made
on the website signs here, and a sub-user key made here is found by the same lookup.

Two answer shapes, as on HTX: the v1 gateway form `{"status": "ok"|"error", "err-code",
"err-msg", "data"}` for every refusal of the gateway (signature, key, IP, time, permission,
body, path) and for v1 endpoints; the v2 form `{"code": 200|<n>, "message", "data"}` for the
results and business refusals of v2 endpoints. sandbox/README.md lists every one.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send

from sandbox import subusers
from sandbox.accounts import Account
from sandbox.config import SandboxConfig
from sandbox.gateway import (
    CODE_INVALID_SIGNATURE,
    CODE_RATE_LIMITED,
    MSG_BAD_IP,
    MSG_BAD_KEY,
    MSG_EXPIRED,
    MSG_INVALID_SIGNATURE,
    MSG_NO_PERMISSION,
    MSG_RATE_LIMITED,
    MSG_V2_RATE_LIMITED,
    RATE_LIMITED,
    SIGNATURE_NOT_VALID,
    v1_error,
    v1_ok,
    v2_error,
    v2_ok,
    worded,
)
from sandbox.market import DEMO_BALANCES, currency, symbol
from sandbox.ratelimit import Allowance, RateCounter
from sandbox.signing import SignatureRefused, check_signature, read_signed_parts
from sandbox.state import ApiKey, SandboxState
from sandbox.subusers import V2Refused

# Texts of the gateway beyond gateway.py's; [V]/[I] for each is in sandbox/README.md.
GATEWAY_ERROR = "gateway-internal-error"
MSG_GATEWAY = "Failed to load data. Try again later."
METHOD_NOT_ALLOWED = "method-not-allowed"
MSG_METHOD = "Method Not Allowed"
NO_ACCOUNT = "account-get-balance-account-inexistent-error"
MSG_NO_ACCOUNT = "account for id `{}` and user id `{}` does not exist"
# HTX account ids are their own numbers; the sandbox derives the one spot account from the uid.
ACCOUNT_ID_OFFSET = 100_000_000
# The endpoints HTX limits to 20 calls per 2 s (RateLimits.key_requests).
KEY_ENDPOINTS = (
    "/v2/user/uid",
    "/v2/user/api-key",
    "/v2/sub-user/api-key-generation",
    "/v2/sub-user/api-key-modification",
    "/v2/sub-user/api-key-deletion",
)


class GatewayRefused(Exception):
    def __init__(self, code: str, text: str, status: int = 200) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.status = status


@dataclass(frozen=True)
class Caller:
    """Who signed: the key, its owner's uid, and the login account if the owner is a parent."""

    key: ApiKey
    uid: int
    account: Account | None


Body = dict[str, Any]
Handler = Callable[[Request, Caller, Body], Awaitable[Response]]


def spot_account_id(uid: int) -> int:
    return ACCOUNT_ID_OFFSET + uid


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def ip_allowed(address: str, bound: tuple[str, ...]) -> bool:
    """No IP bound: any address. Otherwise the address must be one of them or in a range."""
    if not bound:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in bound)


class WrongPath(BaseRoute):
    """Anything under /v1/ or /v2/ (any case) that no API route took: 405 method-not-allowed.

    Listed after the API routes, it also takes a known path called with the wrong method
    (Starlette prefers a full match to the partial one of the right path).
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", "")).lower()
        if scope["type"] == "http" and (
            path.startswith(("/v1/", "/v2/")) or path in ("/v1", "/v2")
        ):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await v1_error(METHOD_NOT_ALLOWED, MSG_METHOD, 405)(scope, receive, send)


class RestApi:
    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config
        self.counter = RateCounter()

    def routes(self) -> list[BaseRoute]:
        get, post = ["GET"], ["POST"]
        signed = [
            ("/v1/account/accounts", self.accounts, get),
            ("/v1/account/accounts/{account_id}/balance", self.balance, get),
            ("/v2/user/uid", self.uid, get),
            ("/v2/user/api-key", self.api_keys, get),
            ("/v2/sub-user/api-key-generation", self.generate, post),
            ("/v2/sub-user/api-key-modification", self.modify, post),
            ("/v2/sub-user/api-key-deletion", self.delete, post),
        ]
        return [
            Route("/v1/common/timestamp", self.timestamp, methods=get),
            Route("/v1/common/symbols", self.symbols, methods=get),
            Route("/v1/common/currencys", self.currency_names, methods=get),
            Route("/v2/reference/currencies", self.currencies, methods=get),
            Route("/v2/market-status", self.market_status, methods=get),
            *(
                Route(path, self._signed(path, handler), methods=methods)
                for path, handler, methods in signed
            ),
            WrongPath(),
        ]

    # -- the gateway -------------------------------------------------------------------------

    def _signed(self, path: str, handler: Handler) -> Callable[..., Any]:
        # Sub-user key management changes keys: it needs Trade, as HTX asks of such calls [I].
        parent_only = path.startswith("/v2/sub-user/")
        needs = "trade" if parent_only else "read"
        v2 = path.startswith("/v2/")

        async def endpoint(request: Request) -> Response:
            form = self.config.faults.error_texts
            headers: dict[str, str] = {}
            try:
                caller = self.authenticate(request, needs, parent_only=parent_only, v2=v2)
                allowance = self._count(caller.uid, path)
                if allowance is not None:
                    headers = allowance.headers
                if allowance is not None and not allowance.allowed:
                    answer = _rate_limited(v2, form)
                else:
                    body = await _json_body(request) if request.method == "POST" else {}
                    answer = await handler(request, caller, body)
            except SignatureRefused as exc:
                answer = v1_error(exc.code, worded(exc.text, form))
            except GatewayRefused as exc:
                answer = v1_error(exc.code, worded(exc.text, form), exc.status)
            except V2Refused as exc:
                answer = v2_error(exc.code, exc.message)
            answer.headers.update(headers)
            return answer

        return endpoint

    def _count(self, uid: int, path: str) -> Allowance | None:
        """Count the call against its UID and endpoint; None when limits are off."""
        limits = self.config.rate_limits
        if not limits.enabled:
            return None
        limit = limits.key_requests if path in KEY_ENDPOINTS else limits.requests
        now = self.state.now().timestamp()
        return self.counter.take(uid, path, limit, limits.window_s, now)

    def authenticate(self, request: Request, needs: str, *, parent_only: bool, v2: bool) -> Caller:
        """The gateway's checks in order: auth params and time, key, signature, IP, expiry,
        permission. Each refusal is the v1 form with HTTP 200, but for a key that is unknown or
        no longer valid on a v2 endpoint: `{"code": 1003, "message": "invalid signature"}`.
        A call that passes counts as a use of the key (HTX's 90-day rule counts from it)."""
        state = self.state
        now = state.now()
        parts = read_signed_parts(request.method, request.query_params.multi_items(), now)
        key = state.find_key(parts.access_key)
        if key is None:
            if v2:
                raise V2Refused(CODE_INVALID_SIGNATURE, MSG_INVALID_SIGNATURE)
            raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_BAD_KEY)
        # The path as sent (before any decoding) is what the client signed.
        raw = request.scope.get("raw_path")
        path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
        check_signature(
            key.secret_key, request.method, request.headers.get("host", ""), path, parts
        )
        address = client_ip(request)
        if not ip_allowed(address, key.ip_addresses):
            raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_BAD_IP.format(address))
        if key.status_at(now) == "expired":
            if v2:
                raise V2Refused(CODE_INVALID_SIGNATURE, MSG_INVALID_SIGNATURE)
            raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_EXPIRED)
        state.record_use(key.access_key)
        account = subusers.account_by_uid(state, key.uid)
        # A sub-user's key may not manage sub-user keys: only the parent's may [I].
        if needs not in key.permissions or (parent_only and account is None):
            raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_NO_PERMISSION)
        return Caller(key=key, uid=key.uid, account=account)

    # -- public ------------------------------------------------------------------------------

    async def timestamp(self, _request: Request) -> Response:
        return v1_ok(int(self.state.now().timestamp() * 1000))

    async def symbols(self, _request: Request) -> Response:
        return v1_ok([symbol("btc", "usdt", 2, 6), symbol("eth", "usdt", 2, 4)])

    async def currency_names(self, _request: Request) -> Response:
        return v1_ok(list(DEMO_BALANCES))

    async def currencies(self, _request: Request) -> Response:
        return v2_ok([currency(name) for name in DEMO_BALANCES])

    async def market_status(self, _request: Request) -> Response:
        return JSONResponse({"code": 200, "message": "success", "data": {"marketStatus": 1}})

    # -- signed ------------------------------------------------------------------------------

    async def accounts(self, _request: Request, caller: Caller, _body: Body) -> Response:
        account = {
            "id": spot_account_id(caller.uid),
            "type": "spot",
            "subtype": "",
            "state": "working",
        }
        return v1_ok([account])

    async def balance(self, request: Request, caller: Caller, _body: Body) -> Response:
        given = request.path_params["account_id"]
        # Only the signer's own account: any other id (or a non-number) does not exist for it.
        if given != str(spot_account_id(caller.uid)):
            raise GatewayRefused(NO_ACCOUNT, MSG_NO_ACCOUNT.format(given, caller.uid))
        rows = [
            {"currency": c, "type": t, "balance": amount if t == "trade" else "0"}
            for c, amount in DEMO_BALANCES.items()
            for t in ("trade", "frozen")
        ]
        data = {"id": spot_account_id(caller.uid), "type": "spot", "state": "working", "list": rows}
        return v1_ok(data)

    async def uid(self, _request: Request, caller: Caller, _body: Body) -> Response:
        return v2_ok(caller.uid)

    async def api_keys(self, request: Request, caller: Caller, _body: Body) -> Response:
        params = dict(request.query_params)
        uid = subusers.read_uid(params, "uid")
        # Own keys always; a parent may also look at its sub-users' keys.
        allowed = {caller.uid, *(caller.account.sub_uids if caller.account else ())}
        if uid not in allowed:
            raise subusers.invalid("uid")
        wanted = params.get("accessKey")
        now = self.state.now()
        rows = [
            _key_row(k, now)
            for k in subusers.keys_of_uid(self.state, uid)
            if not wanted or k.access_key == wanted
        ]
        # The official example's envelope: message and ok as well [V HTX docs, API key query].
        return JSONResponse({"code": 200, "message": "success", "data": rows, "ok": True})

    async def generate(self, _request: Request, caller: Caller, body: Body) -> Response:
        parent = _parent(caller)
        key = subusers.generate_key(
            self.state, parent, body, lambda code: self.state.verify_totp(parent, code)
        )
        return v2_ok(
            {
                "accessKey": key.access_key,
                "secretKey": key.secret_key,  # the only answer that ever holds it
                "note": key.note,
                "permission": key.permission_text,
                "ipAddresses": ",".join(key.ip_addresses),
            }
        )

    async def modify(self, _request: Request, caller: Caller, body: Body) -> Response:
        key = subusers.modify_key(self.state, _parent(caller), body)
        return v2_ok(
            {
                "note": key.note,
                "permission": key.permission_text,
                "ipAddresses": ",".join(key.ip_addresses),
            }
        )

    async def delete(self, _request: Request, caller: Caller, body: Body) -> Response:
        subusers.delete_key(self.state, _parent(caller), body)
        return v2_ok(None)


def _rate_limited(v2: bool, form: str) -> Response:
    if v2:
        return v2_error(CODE_RATE_LIMITED, MSG_V2_RATE_LIMITED)
    return v1_error(RATE_LIMITED, worded(MSG_RATE_LIMITED, form))


def _parent(caller: Caller) -> Account:
    if caller.account is None:  # authenticate() has refused sub-user keys; narrows the type
        raise SignatureRefused(SIGNATURE_NOT_VALID, MSG_NO_PERMISSION)
    return caller.account


async def _json_body(request: Request) -> Body:
    """POST bodies are JSON objects sent as application/json; anything else fails as on HTX."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type != "application/json":
            raise ValueError(content_type)
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayRefused(GATEWAY_ERROR, MSG_GATEWAY) from exc
    if not isinstance(data, dict):
        raise GatewayRefused(GATEWAY_ERROR, MSG_GATEWAY)
    return data


def _key_row(key: ApiKey, now: Any) -> dict[str, Any]:
    updated = key.updated_at or key.created_at
    return {
        "accessKey": key.access_key,
        "note": key.note,
        "permission": key.permission_text,
        "ipAddresses": ",".join(key.ip_addresses),  # HTX returns one comma-separated string
        "validDays": key.valid_days_at(now),
        "status": key.status_at(now),
        "createTime": int(key.created_at.timestamp() * 1000),
        "updateTime": int(updated.timestamp() * 1000),
    }
