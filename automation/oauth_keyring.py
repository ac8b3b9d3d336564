"""The sign-in `htx-keys mail login` keeps: one OS keyring entry per mailbox and provider
(service "htx-keys-mail", username "<provider>:<mailbox user>"), holding the refresh token
and the client it was issued to (id, secret, token endpoint, scope), so a later run needs
nothing else to get access tokens. Microsoft's refresh tokens run to a kilobyte or two:
written through automation.keyring_chunks, so Windows' 2.5 KB per entry is no limit. Keyed
by mailbox, not by account: two accounts that read one mailbox share its sign-in."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TypeVar

from automation.errors import StoreError
from automation.keyring_chunks import delete_long, read_long, write_long
from automation.redaction import REDACTOR
from automation.store_base import one_line

MAIL_SERVICE = "htx-keys-mail"
KEYRING_TIMEOUT = 30.0  # a locked keyring may wait for an unlock dialog; not forever
T = TypeVar("T")


@dataclass(frozen=True)
class SavedLogin:
    provider: str
    user: str
    refresh_token: str = field(repr=False)
    client_id: str
    client_secret: str | None = field(repr=False)
    token_url: str
    scope: str
    saved_at: str = ""

    @property
    def entry(self) -> str:
        return entry_name(self.provider, self.user)

    def with_refresh_token(self, token: str) -> SavedLogin:
        return SavedLogin(**{**asdict(self), "refresh_token": token})


def entry_name(provider: str, user: str) -> str:
    return f"{provider}:{user}"


def location(provider: str, user: str) -> str:
    return f"the OS keyring (service {MAIL_SERVICE}, entry {entry_name(provider, user)})"


def _register(login: SavedLogin) -> None:
    REDACTOR.add(login.refresh_token, label="OAuth2 refresh token")
    REDACTOR.add(login.client_secret, label="OAuth2 client secret")


def _in_thread(work: Callable[[], T]) -> T:
    """Run a keyring call in a thread: a locked keyring can block on a prompt nobody sees."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, name="keyring-mail", daemon=True)
    worker.start()
    worker.join(KEYRING_TIMEOUT)
    if worker.is_alive():
        raise TimeoutError(f"it did not answer within {KEYRING_TIMEOUT:g} s (locked?)")
    if errors:
        raise errors[0]
    return result[0]


def load_login(provider: str, user: str) -> tuple[SavedLogin | None, str]:
    """(the saved sign-in or None, why the keyring could not be read: "" when it could)."""
    import keyring
    import keyring.backends.fail

    try:
        if isinstance(keyring.get_keyring(), keyring.backends.fail.Keyring):
            return None, "keyring found no backend"
        text = _in_thread(lambda: read_long(MAIL_SERVICE, entry_name(provider, user)))
    except Exception as exc:
        return None, one_line(exc)
    if not text:
        return None, ""
    try:
        data = json.loads(text)
        login = SavedLogin(**{k: data.get(k) for k in SavedLogin.__dataclass_fields__})
    except (ValueError, TypeError):
        return None, f"the entry {entry_name(provider, user)} is not a saved sign-in"
    if not (login.refresh_token and login.client_id and login.token_url):
        return None, f"the entry {entry_name(provider, user)} is incomplete"
    _register(login)
    return login, ""


def save_login(login: SavedLogin) -> str:
    """Store and read back; the place it went, for the person. StoreError when it fails."""
    from automation.store_keyring import keyring_usable

    _register(login)
    usable, reason = keyring_usable(MAIL_SERVICE)
    if not usable:
        raise StoreError(f"No usable OS keyring to keep the refresh token in ({reason})")
    data = asdict(login)
    data["saved_at"] = login.saved_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = json.dumps(data)
    try:
        _in_thread(lambda: write_long(MAIL_SERVICE, login.entry, text))
        back = _in_thread(lambda: read_long(MAIL_SERVICE, login.entry))
    except Exception as exc:
        what = f"Keyring ({MAIL_SERVICE}) failed to store the sign-in"
        raise StoreError(f"{what}: {one_line(exc)}") from None
    if back != text:
        raise StoreError(f"Keyring ({MAIL_SERVICE}) returned something else for {login.entry}")
    return location(login.provider, login.user)


def delete_login(provider: str, user: str) -> bool:
    """Forget the sign-in; False when there was none."""
    import keyring
    from keyring.errors import PasswordDeleteError

    entry = entry_name(provider, user)
    try:
        if _in_thread(lambda: keyring.get_password(MAIL_SERVICE, entry)) is None:
            return False
        _in_thread(lambda: delete_long(MAIL_SERVICE, entry))
    except PasswordDeleteError:
        return True  # gone in between
    except Exception as exc:
        what = f"Keyring ({MAIL_SERVICE}) failed to delete {entry}"
        raise StoreError(f"{what}: {one_line(exc)}") from None
    return True
