"""Access tokens for an IMAP login with OAuth2 (XOAUTH2, OAUTHBEARER), from one of two sources:

* a command that prints one (HTX_IMAP_OAUTH_TOKEN_COMMAND, as neomutt and aerc take it): run
  without a shell from its parsed argv, with a timeout; on failure its stderr is shown,
  scrubbed, never a token;
* a refresh token (kept by `htx-keys mail login` in the OS keyring, or given in the
  environment) exchanged at the provider's token endpoint when an access token is needed;
  the access token is kept in memory only, until a minute before it expires.

The protocol is Authlib's (its requests client): this module only decides when to ask and
what a refusal means. Every token enters the redactor the moment it is read.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

from automation.errors import MailError
from automation.oauth_client import OAuthClient
from automation.redaction import REDACTOR
from automation.schema import find_program, token_command_argv

COMMAND_TIMEOUT = 60.0  # a command may ask a keyring or a password manager first
HTTP_TIMEOUT = 30.0
LEEWAY = 60.0  # an access token this close to its end is not used for a new login
DEFAULT_LIFETIME = 300.0  # when the token endpoint does not say (expires_in is RECOMMENDED)
STDERR_CHARS = 300


class TokenSource(Protocol):
    """Where the access tokens of an OAuth2 IMAP login come from."""

    @property
    def description(self) -> str:
        """What the token is, for messages: "the access token from HTX_IMAP_..."."""
        ...

    @property
    def fix(self) -> str:
        """What the person does when the server refuses the token (one clause)."""
        ...

    def access_token(self) -> str:
        """A token to log in with now; MailError when none can be had."""
        ...

    def renew(self) -> bool:
        """The server refused the last token: forget it. True when asking again may bring a
        different one (a cached token can be replaced; a command's answer cannot)."""
        ...


def one_line(text: str, limit: int = STDERR_CHARS) -> str:
    """Scrubbed, on one line, cut to `limit` characters."""
    flat = " / ".join(line.strip() for line in REDACTOR.scrub(text).splitlines() if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class CommandTokenSource:
    """Runs the configured command each time a login needs a token."""

    def __init__(self, command: str, *, label: str, timeout: float = COMMAND_TIMEOUT) -> None:
        self.argv = token_command_argv(command, label)
        self.label = label
        self.timeout = timeout

    @property
    def program(self) -> str:
        return os.path.basename(self.argv[0])

    @property
    def description(self) -> str:
        return f"the access token from {self.label}"

    @property
    def fix(self) -> str:
        return f"make {self.label} ({self.program}) print a fresh access token"

    def check(self) -> None:
        """Before anything connects: the program must exist (a typo costs nothing); the
        command then runs from the path found."""
        self.argv[0] = find_program(self.argv[0], self.label)

    def access_token(self) -> str:
        what = f"{self.label} ({self.program})"
        try:
            done = subprocess.run(
                self.argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise MailError(f"{what} printed no access token within {self.timeout:g} s") from None
        except OSError as exc:
            raise MailError(f"{what} could not be run: {exc.strerror or exc}") from None
        lines = [ln.strip() for ln in done.stdout.decode("utf-8", "replace").splitlines()]
        token = next((line for line in lines if line), "")
        # Whatever it printed is scrubbed from what it said on stderr, and from every later
        # output: a failing command may still have printed a token.
        REDACTOR.add(token, label="IMAP OAuth2 access token")
        said = one_line(done.stderr.decode("utf-8", "replace"))
        if done.returncode != 0:
            raise MailError(
                f"{what} failed with exit status {done.returncode}" + (f": {said}" if said else "")
            )
        if not token:
            raise MailError(f"{what} printed no access token" + (f": {said}" if said else ""))
        if any(c.isspace() for c in token):
            raise MailError(f"{what} printed something that is not an access token (spaces)")
        return token

    def renew(self) -> bool:
        return False


class RefreshTokenSource:
    """Exchanges a refresh token for access tokens (RFC 6749 section 6), through Authlib."""

    def __init__(
        self,
        client: OAuthClient,
        refresh_token: str,
        *,
        user: str,
        kept_in: str,
        fix: str,
        on_rotate: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = HTTP_TIMEOUT,
    ) -> None:
        REDACTOR.add(refresh_token, label="OAuth2 refresh token")
        self.client = client
        self.user = user
        self.kept_in = kept_in
        self._fix = fix
        self._refresh_token = refresh_token
        self._on_rotate = on_rotate
        self._clock = clock
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._cached = False  # whether the last token handed out came from memory
        self.refreshes = 0

    @property
    def description(self) -> str:
        return f"the access token from {self.client.provider.title} (refresh token {self.kept_in})"

    @property
    def fix(self) -> str:
        return self._fix

    @property
    def host(self) -> str:
        return urlsplit(self.client.token_url).netloc

    def access_token(self) -> str:
        self._cached = self._token is not None and self._clock() < self._expires_at - LEEWAY
        if not self._cached:
            self._refresh()
        assert self._token is not None
        return self._token

    def renew(self) -> bool:
        was_cached, self._cached = self._cached, False
        self._token = None
        return was_cached

    def start_with(self, token: dict[str, Any]) -> None:
        """Use a token response in hand (a sign-in's) until it expires, as if refreshed."""
        self._take(token)

    def _refresh(self) -> None:
        import requests
        from authlib.integrations.requests_client import OAuth2Session, OAuthError

        c = self.client
        session = OAuth2Session(
            c.client_id,
            c.client_secret,
            # No secret: a public client names itself in the body (Microsoft's); with one,
            # in the body too, as Google documents it.
            token_endpoint_auth_method="client_secret_post" if c.client_secret else "none",
            scope=c.scope,
            default_timeout=self._timeout,
        )
        try:
            token: dict[str, Any] = dict(
                session.refresh_token(c.token_url, refresh_token=self._refresh_token)
            )
        except OAuthError as exc:
            raise self._refused(str(exc.error), exc.description) from None
        except requests.RequestException as exc:
            raise MailError(
                f"Cannot get an access token from {self.host}: {type(exc).__name__}"
                + (f" ({one_line(str(exc), 160)})" if str(exc) else "")
            ) from None
        except ValueError as exc:  # not JSON, or not an object
            raise MailError(f"{self.host} sent no token: {one_line(str(exc), 160)}") from None
        finally:
            session.close()
        self.refreshes += 1
        self._take(token)

    def _take(self, token: dict[str, Any]) -> None:
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise MailError(f"{self.host} answered the refresh without an access token")
        REDACTOR.add(access, label="IMAP OAuth2 access token")
        now = self._clock()
        try:
            lifetime = float(token.get("expires_in") or DEFAULT_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        self._token, self._expires_at = access, now + lifetime
        rotated = token.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh_token:
            # Microsoft hands out a new refresh token with each use: keep the newest.
            REDACTOR.add(rotated, label="OAuth2 refresh token")
            self._refresh_token = rotated
            if self._on_rotate is not None:
                # A failed save loses nothing yet: the token in hand works, the old one too.
                with contextlib.suppress(Exception):
                    self._on_rotate(rotated)

    def _refused(self, error: str, description: str | None) -> MailError:
        said = f"{error}: {one_line(description, 160)}" if description else error
        title = self.client.provider.title
        if error == "invalid_grant":
            return MailError(
                f"{title} refused the OAuth2 refresh token for {self.user} ({said}): it has "
                f"expired or was revoked; {self.fix}"
            )
        if error in ("invalid_client", "unauthorized_client"):
            return MailError(
                f"{title} refused the OAuth2 client {self.client.client_id} ({said}): check "
                f"its id and secret; {self.fix}"
            )
        return MailError(f"{title} refused to refresh the access token for {self.user} ({said})")
