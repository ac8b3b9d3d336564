"""Saved browser sessions: Playwright's storage state, kept where a password would be kept.

A signed-in session spares the login (and its GA code, and any captcha or new-device check)
on later runs. It is as good as a password while it lasts, so it goes to the OS keyring by
default (split over several entries when long: automation.keyring_chunks) or to a 0600 file
when asked, and its tokens (session cookies, localStorage values
that look like tokens) enter the redactor when it is loaded and when it is saved.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import zlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from automation.errors import ConfigError, InputError, StoreError
from automation.files import atomic_write
from automation.redaction import REDACTOR
from automation.schema import SESSION_EXPORT_PREFIX

SESSION_SERVICE = "htx-keys-session"
# An exported session (`htx-keys login --export-session`, read by --session env:VAR): this
# prefix, then the storage state's JSON, deflated and base64url-encoded: one line of safe
# characters that a CI's secret store holds as it is.
EXPORT_PREFIX = SESSION_EXPORT_PREFIX
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# Values this long are taken for tokens whatever they look like; shorter ones only when
# they mix letters and digits. Flags and settings ("en-us", "true", "dark", "1") are left
# alone: masked, they would mangle every URL and page text they also appear in.
TOKEN_LENGTH = 16
MIXED_TOKEN_LENGTH = 8


def looks_like_token(value: str) -> bool:
    if len(value) >= TOKEN_LENGTH:
        return True
    return (
        len(value) >= MIXED_TOKEN_LENGTH
        and not any(c.isspace() for c in value)
        and any(c.isalpha() for c in value)
        and any(c.isdigit() for c in value)
    )


def _tokens(value: str) -> list[str]:
    """The value, and the strings inside it when it is JSON (a site keeps
    {"token": "...", "expires": ...} in localStorage and sends the token alone)."""
    found = [value] if looks_like_token(value) else []
    try:
        parsed = json.loads(value)
    except ValueError:
        return found
    stack = [parsed]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and item != value:
            found += _tokens(item)
    return found


def register_state(state: Any) -> None:
    """Register the secrets of a browser's storage state (Playwright's format) with the
    redactor: every session cookie (HttpOnly, or a token by its looks) and every localStorage
    value that looks like a token, JSON values included. Loaded, saved or read from a live
    context: the same rule, so the values are scrubbed from every output."""
    if not isinstance(state, dict):
        return
    for cookie in _items(state.get("cookies")):
        value = str(cookie.get("value", ""))
        tokens = [value] if cookie.get("httpOnly") else []
        for token in [*tokens, *_tokens(value)]:
            REDACTOR.add(token, label="session cookie")
    for origin in _items(state.get("origins")):
        for item in _items(origin.get("localStorage")):
            for token in _tokens(str(item.get("value", ""))):
                REDACTOR.add(token, label="session storage")


def _items(value: Any) -> list[dict[str, Any]]:
    """The dicts of a list; anything else in a hand-edited file is ignored here."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class SessionStore(ABC):
    description: str

    @abstractmethod
    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is none (or it cannot be read)."""

    @abstractmethod
    def save(self, state: dict[str, Any]) -> None: ...

    @abstractmethod
    def delete(self) -> None: ...


class NoSession(SessionStore):
    description = "no saved session"

    def load(self) -> dict[str, Any] | None:
        return None

    def save(self, state: dict[str, Any]) -> None:
        raise InputError("--session none: nowhere to save the session")

    def delete(self) -> None:
        return None


class FileSession(SessionStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"session file {path}"

    def load(self) -> dict[str, Any] | None:
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"Cannot read {self.path}: {type(exc).__name__}") from None
        if not isinstance(state, dict):
            raise ConfigError(f"{self.path} is not a saved browser session")
        register_state(state)
        return state

    def save(self, state: dict[str, Any]) -> None:
        register_state(state)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.path, json.dumps(state).encode())

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


class KeyringSession(SessionStore):
    """One keyring entry per site and login: `htx-keys-session` / `email @ host`."""

    def __init__(self, base_url: str, email: str) -> None:
        self.entry = f"{email} @ {urlsplit(base_url).netloc}"
        self.description = f"keyring (service {SESSION_SERVICE})"
        self._loaded: tuple[dict[str, Any] | None] | None = None

    def load(self) -> dict[str, Any] | None:
        if self._loaded is None:  # read the keyring once per run
            self._loaded = (self._read(),)
        return self._loaded[0]

    def _read(self) -> dict[str, Any] | None:
        from keyring.errors import KeyringError

        from automation.keyring_chunks import read_long

        try:
            text = read_long(SESSION_SERVICE, self.entry)
        except KeyringError:
            return None  # no keyring: simply no saved session
        if not text:
            return None
        try:
            state = json.loads(text)
        except ValueError:
            return None
        register_state(state)
        return state if isinstance(state, dict) else None

    def save(self, state: dict[str, Any]) -> None:
        from keyring.errors import KeyringError

        from automation.keyring_chunks import write_long
        from automation.store import keyring_usable

        usable, reason = keyring_usable(SESSION_SERVICE)
        if not usable:
            raise StoreError(
                f"Cannot save the session in the OS keyring ({reason})",
                hint="use --session file:PATH to keep it in a 0600 file instead",
            )
        register_state(state)
        try:
            write_long(SESSION_SERVICE, self.entry, json.dumps(state))
        except KeyringError as exc:
            raise StoreError(f"Cannot save the session in the OS keyring: {exc}") from None
        self._loaded = (state,)

    def delete(self) -> None:
        from keyring.errors import KeyringError, PasswordDeleteError

        from automation.keyring_chunks import delete_long

        with contextlib.suppress(PasswordDeleteError, KeyringError):
            delete_long(SESSION_SERVICE, self.entry)
        self._loaded = (None,)


def export_session(state: dict[str, Any]) -> str:
    """A session as one line for a CI secret (the secret itself: print it only when asked)."""
    packed = zlib.compress(json.dumps(state, separators=(",", ":")).encode(), 9)
    text = EXPORT_PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    REDACTOR.add(text, label="exported session")
    return text


def import_session(text: str, label: str) -> dict[str, Any]:
    """The storage state an exported session holds; a ConfigError naming `label` (never the
    value) when it is not one."""
    text = text.strip()
    if not text.startswith(EXPORT_PREFIX):
        raise ConfigError(
            f"{label} does not hold a session exported by `htx-keys login --export-session`"
        )
    REDACTOR.add(text, label="exported session")
    body = text[len(EXPORT_PREFIX) :]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        state = json.loads(zlib.decompress(packed))
    except (binascii.Error, ValueError, zlib.error):
        raise ConfigError(f"{label} holds a damaged session: export it again") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{label} holds a damaged session: export it again")
    register_state(state)
    return state


class EnvSession(SessionStore):
    """A session exported into an environment variable: what a CI secret is. Read-only: a
    session the run had to renew (it expired, and HTX_PASSWORD logged in again) serves this
    run only, and the message says to export a new one."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.description = f"environment variable {variable}"

    def load(self) -> dict[str, Any] | None:
        text = os.environ.get(self.variable, "")
        if not text.strip():
            raise ConfigError(
                f"{self.variable} is empty or not set (--session env:{self.variable})",
                hint="put the line `htx-keys login --export-session` prints into that "
                "variable (a CI secret)",
            )
        return import_session(text, self.variable)

    def save(self, state: dict[str, Any]) -> None:
        register_state(state)
        self.description = (
            f"for this run only: {self.variable} cannot be written; run "
            "`htx-keys login --export-session` and update the secret"
        )

    def delete(self) -> None:
        raise InputError(
            f"--session env:{self.variable}: the session is in a CI secret; delete it there"
        )


class MemorySession(SessionStore):
    """A session kept in memory only: `login --export-session` prints it."""

    description = "memory (to be printed)"

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        return self.state

    def save(self, state: dict[str, Any]) -> None:
        register_state(state)
        self.state = state

    def delete(self) -> None:
        self.state = None


def open_session_store(spec: str, base_url: str, email: str) -> SessionStore:
    """keyring (default) | file:PATH | env:VAR | none."""
    kind, _, arg = spec.strip().partition(":")
    if kind == "env" and ENV_NAME.fullmatch(arg.strip()):
        return EnvSession(arg.strip())
    if kind == "keyring" and not arg:
        return KeyringSession(base_url, email)
    if kind == "file" and arg.strip():
        return FileSession(Path(arg.strip()).expanduser().absolute())
    if kind == "none" and not arg:
        return NoSession()
    raise InputError(f"Unknown session store '{spec}': use keyring, file:PATH, env:VAR or none")
