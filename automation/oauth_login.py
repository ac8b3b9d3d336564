"""Signing a mailbox in once, the way each provider lets a command-line tool do it, to get a
refresh token (Authlib speaks the protocol; this module runs the person's side):

* device code (RFC 8628; Microsoft): the person opens a web page anywhere, types the code
  shown here, and the tool polls the token endpoint until they have agreed;
* loopback redirect with PKCE (RFC 8252, RFC 7636; Google): the tool listens on
  127.0.0.1, the browser on this machine signs in and is sent back there with a code, which
  is exchanged (with the PKCE verifier) for the tokens.

Every code and token enters the redactor the moment it is read; the user code and the
sign-in address are what the person must see, and are shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from automation.errors import MailError
from automation.oauth_client import OAuthClient
from automation.oauth_tokens import HTTP_TIMEOUT, one_line
from automation.redaction import REDACTOR

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_S = 5  # RFC 8628 3.5: on slow_down, poll 5 s less often from then on
DONE_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>htx-keys</title>"
    b"<p>Signed in. You can close this tab and go back to the terminal.</p>"
)
FAILED_PAGE = (
    b"<!doctype html><meta charset=utf-8><title>htx-keys</title>"
    b"<p>The sign-in did not succeed; the terminal says why.</p>"
)


@dataclass(frozen=True)
class DeviceCode:
    """What the person needs to approve a device sign-in."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: float


def _session(client: OAuthClient, **extra: Any) -> Any:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        client.client_id,
        client.client_secret,
        token_endpoint_auth_method="client_secret_post" if client.client_secret else "none",
        default_timeout=HTTP_TIMEOUT,
        **extra,
    )


def _tokens(client: OAuthClient, token: Any) -> dict[str, Any]:
    """The token response, checked to hold what a later run needs, its secrets registered."""
    data = dict(token)
    for name in ("access_token", "refresh_token", "id_token"):
        REDACTOR.add(data.get(name) if isinstance(data.get(name), str) else None, label=name)
    if not data.get("refresh_token"):
        raise MailError(
            f"{client.provider.title} signed in but gave no refresh token (scope "
            f"{client.scope!r}): a later run could not get new access tokens"
        )
    return data


def _refused(client: OAuthClient, exc: Exception) -> MailError:
    error = getattr(exc, "error", None) or type(exc).__name__
    description = getattr(exc, "description", None) or ""
    said = f"{error}: {one_line(description, 200)}" if description else str(error)
    return MailError(f"{client.provider.title} refused the sign-in ({said})")


def _unreachable(url: str, exc: Exception) -> MailError:
    return MailError(f"Cannot reach {urlsplit(url).netloc}: {type(exc).__name__}")


def device_login(
    client: OAuthClient,
    show: Callable[[DeviceCode], None],
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Device code flow: show the code, poll until it is approved, return the tokens."""
    import requests
    from authlib.common.errors import AuthlibBaseError

    if not client.device_url:
        raise MailError(f"{client.provider.title} has no device sign-in endpoint configured")
    session = _session(client)
    try:
        try:
            answer = session.post(
                client.device_url,
                data={"client_id": client.client_id, "scope": client.scope},
                headers={"Accept": "application/json"},
                withhold_token=True,
            )
            grant = answer.json()
        except requests.RequestException as exc:
            raise _unreachable(client.device_url, exc) from None
        except ValueError:
            raise MailError(
                f"{urlsplit(client.device_url).netloc} answered the device sign-in with HTTP "
                f"{answer.status_code} and no JSON"
            ) from None
        if not isinstance(grant, dict) or "error" in grant or "device_code" not in grant:
            error = grant.get("error") if isinstance(grant, dict) else None
            description = grant.get("error_description") if isinstance(grant, dict) else None
            said = f"{error}: {one_line(str(description or ''), 200)}" if error else "no code"
            raise MailError(f"{client.provider.title} refused the device sign-in ({said})")
        device_code = str(grant["device_code"])
        REDACTOR.add(device_code, label="OAuth2 device code")
        expires_in = float(grant.get("expires_in") or 900)
        # verification_url: Google's name for it in its own device flow
        uri = grant.get("verification_uri") or grant.get("verification_url")
        show(
            DeviceCode(
                user_code=str(grant.get("user_code", "")),
                verification_uri=str(uri),
                verification_uri_complete=grant.get("verification_uri_complete"),
                expires_in=expires_in,
            )
        )
        interval = float(grant.get("interval") or 5)
        deadline = clock() + min(expires_in, timeout)
        while True:
            if clock() + interval > deadline:
                raise MailError(
                    f"Nobody approved the sign-in within {min(expires_in, timeout):.0f} s; "
                    "run the command again"
                )
            sleep(interval)
            try:
                token = session.fetch_token(
                    client.token_url, grant_type=DEVICE_GRANT, device_code=device_code
                )
                return _tokens(client, token)
            except AuthlibBaseError as exc:
                if exc.error == "authorization_pending":
                    continue
                if exc.error == "slow_down":
                    interval += SLOW_DOWN_S
                    continue
                if exc.error in ("expired_token", "code_expired"):
                    raise MailError("The sign-in code expired; run the command again") from None
                if exc.error in ("access_denied", "authorization_declined"):
                    raise MailError("The sign-in was declined in the browser") from None
                raise _refused(client, exc) from None
            except requests.RequestException as exc:
                raise _unreachable(client.token_url, exc) from None
    finally:
        session.close()


class _Redirect(HTTPServer):
    """Waits on 127.0.0.1 for the browser to come back with the authorization response."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RedirectHandler)
        self.query: str | None = None
        self.arrived = threading.Event()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _RedirectHandler(BaseHTTPRequestHandler):
    server: _Redirect

    def do_GET(self) -> None:
        query = urlsplit(self.path).query
        params = parse_qs(query)
        if self.server.arrived.is_set() or not ({"code", "error"} & params.keys()):
            self.send_error(404)  # a favicon, a second visit: not the answer
            return
        for value in params.get("code", []):
            REDACTOR.add(value, label="OAuth2 authorization code")
        self.server.query = query
        self.server.arrived.set()
        page = DONE_PAGE if "code" in params else FAILED_PAGE
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line holds the authorization code."""


def loopback_login(
    client: OAuthClient,
    show: Callable[[str], None],
    open_browser: Callable[[str], object],
    *,
    timeout: float,
    login_hint: str | None = None,
) -> dict[str, Any]:
    """Authorization code flow with PKCE and a loopback redirect; returns the tokens."""
    import requests
    from authlib.common.errors import AuthlibBaseError
    from authlib.common.security import generate_token

    if not client.auth_url:
        raise MailError(f"{client.provider.title} has no authorization endpoint configured")
    server = _Redirect()
    worker = threading.Thread(
        target=server.serve_forever, args=(0.1,), name="oauth-redirect", daemon=True
    )
    worker.start()
    verifier = generate_token(64)  # RFC 7636: 43 to 128 characters
    REDACTOR.add(verifier, label="PKCE code verifier")
    session = _session(
        client, scope=client.scope, redirect_uri=server.uri, code_challenge_method="S256"
    )
    try:
        extra = dict(client.provider.auth_params)
        if login_hint:
            extra["login_hint"] = login_hint
        url, state = session.create_authorization_url(
            client.auth_url, code_verifier=verifier, **extra
        )
        show(url)
        open_browser(url)
        if not server.arrived.wait(timeout):
            raise MailError(f"The browser did not come back with a sign-in within {timeout:g} s")
        answer = parse_qs(server.query or "")
        if "error" in answer:
            error = answer["error"][0]
            if error == "access_denied":
                raise MailError("The sign-in was declined in the browser")
            said = answer.get("error_description", [""])[0]
            raise MailError(
                f"{client.provider.title} refused the sign-in ({error}"
                + (f": {one_line(said, 200)})" if said else ")")
            )
        try:
            token = session.fetch_token(
                client.token_url,
                authorization_response=f"{server.uri}?{server.query}",
                state=state,
                code_verifier=verifier,
            )
        except AuthlibBaseError as exc:
            raise _refused(client, exc) from None
        except requests.RequestException as exc:
            raise _unreachable(client.token_url, exc) from None
        return _tokens(client, token)
    finally:
        session.close()
        server.shutdown()
        server.server_close()
