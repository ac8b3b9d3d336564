"""A local OAuth2 authorization server for tests, on loopback HTTP: what Google's and
Microsoft's endpoints do for a mail client, and what Dovecot asks of one.

* POST /token: the refresh grant (RFC 6749 6), the device code grant (RFC 8628 3.4) and the
  authorization code grant with PKCE (RFC 6749 4.1.3, RFC 7636 4.6), answering errors the
  way the RFCs name them (invalid_grant, authorization_pending, slow_down, ...);
* POST /devicecode: the device authorization request (RFC 8628 3.1);
* GET /authorize: the authorization request; the person signing in is `browser_user`, who
  agrees at once (or declines, with `decline`), and the browser is sent back with a 302;
* POST /introspect: token introspection (RFC 7662) for Dovecot's oauth2 passdb
  (introspection_mode = post): {"active": true, "username": ...} or {"active": false}.

A test sets what the provider knows (clients, refresh tokens it issued) and changes it
(expire an access token, revoke a refresh token); counters say what was asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from automation.hosts import is_loopback_host
from tests.support.dovecot import REQUIRE_ENV, Dovecot, find_dovecot

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Access:
    user: str
    expires_at: float
    revoked: bool = False


@dataclass
class Refresh:
    user: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class DeviceGrant:
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    approved_by: str | None = None
    denied: bool = False
    polls: int = 0


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str
    user: str
    scope: str
    used: bool = False


@dataclass
class Counters:
    refresh: int = 0
    introspect: int = 0
    device_polls: int = 0
    authorize: list[dict[str, str]] = field(default_factory=list)


class Provider:
    """The server's state; `start()` serves it on 127.0.0.1 on a free port."""

    def __init__(self, access_lifetime: float = 3600.0, rotate: bool = False) -> None:
        self.access_lifetime = access_lifetime
        # Bytes of randomness in a refresh token: Microsoft's run past a kilobyte.
        self.refresh_bytes = 24
        self.rotate = rotate  # hand out a new refresh token with each refresh (Microsoft)
        self.clients: dict[str, str | None] = {}
        self.access: dict[str, Access] = {}
        self.refresh: dict[str, Refresh] = {}
        self.devices: dict[str, DeviceGrant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.browser_user = ""
        self.decline = False
        self.slow_down_once = False
        self.counts = Counters()
        self.lock = threading.Lock()
        self.device_requested = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- for tests ---------------------------------------------------------------------------

    def start(self) -> Provider:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.provider = self  # type: ignore[attr-defined]
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    token_url = property(lambda self: f"{self.url}/token")
    device_url = property(lambda self: f"{self.url}/devicecode")
    auth_url = property(lambda self: f"{self.url}/authorize")
    introspection_url = property(lambda self: f"{self.url}/introspect")

    def add_client(self, client_id: str, secret: str | None = None) -> None:
        self.clients[client_id] = secret

    def grant(self, user: str, client_id: str, scope: str = "mail") -> str:
        """A refresh token for `user`, as a past sign-in would have left."""
        token = f"rt-{secrets.token_urlsafe(self.refresh_bytes)}"
        self.refresh[token] = Refresh(user, client_id, scope)
        return token

    def mint_access(self, user: str, lifetime: float | None = None) -> str:
        token = f"at-{secrets.token_urlsafe(24)}"
        expires = time.time() + (self.access_lifetime if lifetime is None else lifetime)
        self.access[token] = Access(user, expires)
        return token

    def expire(self, access_token: str) -> None:
        self.access[access_token].expires_at = 0.0

    def revoke(self, refresh_token: str) -> None:
        """The person removed the app's access: the refresh token and its access tokens."""
        grant = self.refresh[refresh_token]
        grant.revoked = True
        for access in self.access.values():
            if access.user == grant.user:
                access.revoked = True

    def approve(self, user_code: str, user: str) -> None:
        for grant in self.devices.values():
            if grant.user_code == user_code:
                grant.approved_by = user
                return
        raise KeyError(user_code)

    def issued(self) -> Iterator[str]:
        """Every token and code handed out: for the leak check."""
        yield from self.access
        yield from self.refresh
        yield from self.devices
        yield from self.codes

    # -- the endpoints ------------------------------------------------------------------------

    def client_error(self, form: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        wanted = self.clients[client_id]
        if wanted is not None and form.get("client_secret") != wanted:
            return 401, {"error": "invalid_client", "error_description": "bad client secret"}
        return None

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        refused = self.client_error(form)
        if refused:
            return refused
        kind = form.get("grant_type")
        if kind == "refresh_token":
            return self._refresh_grant(form)
        if kind == DEVICE_GRANT:
            return self._device_grant(form)
        if kind == "authorization_code":
            return self._code_grant(form)
        return 400, {"error": "unsupported_grant_type"}

    def _tokens(
        self, user: str, client_id: str, scope: str, refresh: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        access = self.mint_access(user)
        refresh = refresh or self.grant(user, client_id, scope)
        return 200, {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(self.access_lifetime),
            "refresh_token": refresh,
            "scope": scope,
        }

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.counts.refresh += 1
        grant = self.refresh.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked or grant.client_id != form.get("client_id"):
            return 400, {
                "error": "invalid_grant",
                "error_description": "The refresh token has expired or was revoked",
            }
        keep = None if self.rotate else form["refresh_token"]
        if self.rotate:
            grant.revoked = True
        return self._tokens(grant.user, grant.client_id, grant.scope, keep)

    def _device_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        self.counts.device_polls += 1
        grant = self.devices.get(form.get("device_code", ""))
        if grant is None or grant.client_id != form.get("client_id"):
            return 400, {"error": "invalid_grant"}
        grant.polls += 1
        if time.time() > grant.expires_at:
            return 400, {"error": "expired_token"}
        if grant.denied:
            return 400, {"error": "access_denied"}
        if grant.approved_by is None:
            if self.slow_down_once and grant.polls == 1:
                return 400, {"error": "slow_down"}
            return 400, {"error": "authorization_pending"}
        del self.devices[form["device_code"]]
        return self._tokens(grant.approved_by, grant.client_id, grant.scope)

    def _code_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        code = self.codes.get(form.get("code", ""))
        if code is None or code.used or code.client_id != form.get("client_id"):
            return 400, {"error": "invalid_grant", "error_description": "unknown code"}
        code.used = True
        if form.get("redirect_uri") != code.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != code.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE check failed"}
        return self._tokens(code.user, code.client_id, code.scope)

    def device(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("client_id") not in self.clients:
            return 400, {"error": "invalid_client"}
        device_code = f"dc-{secrets.token_urlsafe(24)}"
        user_code = "-".join(secrets.token_hex(2).upper() for _ in range(2))
        self.devices[device_code] = DeviceGrant(
            user_code, form["client_id"], form.get("scope", ""), time.time() + 900
        )
        self.device_requested.set()
        return 200, {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": f"{self.url}/device",
            "expires_in": 900,
            "interval": 1,
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """(status, Location or error text)."""
        self.counts.authorize.append(query)
        redirect = query.get("redirect_uri", "")
        host = urlsplit(redirect).hostname or ""
        if query.get("client_id") not in self.clients or not is_loopback_host(host):
            return 400, "unknown client or a redirect that is not loopback"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, "PKCE (S256) required"
        if self.decline:
            answer = {"error": "access_denied", "state": query.get("state", "")}
        else:
            code = f"ac-{secrets.token_urlsafe(16)}"
            self.codes[code] = AuthCode(
                query["client_id"], redirect, query["code_challenge"],
                self.browser_user, query.get("scope", ""),
            )  # fmt: skip
            answer = {"code": code, "state": query.get("state", "")}
        return 302, f"{redirect}?{urlencode(answer)}"

    def introspect(self, form: dict[str, str]) -> dict[str, Any]:
        self.counts.introspect += 1
        access = self.access.get(form.get("token", ""))
        if access is None or access.revoked or time.time() >= access.expires_at:
            return {"active": False}
        return {"active": True, "username": access.user, "exp": int(access.expires_at)}


class _Handler(BaseHTTPRequestHandler):
    def _provider(self) -> Provider:
        return self.server.provider  # type: ignore[attr-defined]

    def _json(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_POST(self) -> None:
        provider, path, form = self._provider(), urlsplit(self.path).path, self._form()
        with provider.lock:
            if path == "/token":
                self._json(*provider.token(form))
            elif path == "/devicecode":
                self._json(*provider.device(form))
            elif path == "/introspect":
                self._json(200, provider.introspect(form))
            else:
                self._json(404, {"error": "not_found"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/authorize":
            self._json(404, {"error": "not_found"})
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._provider().lock:
            status, where = self._provider().authorize(query)
        if status != 302:
            self._json(status, {"error": "invalid_request", "error_description": where})
            return
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: request lines carry codes."""


@dataclass
class OAuthMail:
    """A running provider and a Dovecot that logs users in with its tokens."""

    provider: Provider
    dovecot: Dovecot


@pytest.fixture(scope="session")
def oauth_mail() -> Iterator[OAuthMail]:
    """A provider and a Dovecot checking its tokens, for the whole session (each test adds
    its own users and clients); import it into a test module."""
    if find_dovecot() is None:
        reason = "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(reason)
    provider = Provider().start()
    try:
        with Dovecot(introspection_url=provider.introspection_url) as server:
            yield OAuthMail(provider, server)
    finally:
        provider.stop()
