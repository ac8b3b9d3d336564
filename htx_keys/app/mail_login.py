"""`htx-keys mail login` and `mail logout`: sign a mailbox in once with its provider (Google or
Microsoft) and keep the refresh token in the OS keyring, where later runs find it; then check
that the IMAP server takes the new access token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from automation.config import Settings, with_values
from automation.errors import ConfigError, MailError
from automation.mail import Inbox
from automation.mail_auth import MECHANISMS
from automation.mail_tokens import mailbox_user
from automation.oauth_client import PROVIDERS, OAuthClient, client_from_settings, provider_name
from automation.oauth_keyring import (
    MAIL_SERVICE,
    SavedLogin,
    delete_login,
    location,
    save_login,
)
from automation.oauth_login import DeviceCode, device_login, loopback_login
from automation.oauth_tokens import RefreshTokenSource
from htx_keys.app.preflight import mail_settings

Tell = Callable[[str], None]


@dataclass
class SignedIn:
    provider: str
    user: str
    stored_in: str | None  # None: the refresh token is handed back, not stored
    checked: str  # what the IMAP check found, or why there was none
    refresh_token: str = field(repr=False, default="")
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        title = PROVIDERS[self.provider].title
        kept = (
            f"the refresh token is in {self.stored_in}"
            if self.stored_in
            else "the refresh token is on the last line (not stored)"
        )
        lines = [f"Signed in to {title} as {self.user}: {kept}", self.checked, *self.notes]
        return "\n".join(lines)


def chosen_provider(settings: Settings, provider: str | None) -> str:
    name = provider or provider_name(settings)
    if name is None:
        raise ConfigError(
            f"Which provider? Give --provider google or microsoft (or set "
            f"{settings.env_name('imap_oauth_provider')}); the IMAP host "
            f"{settings.imap_host or '(not set)'} does not tell"
        )
    return name


def login_client(settings: Settings, provider: str) -> tuple[OAuthClient, str]:
    """The client to sign in with and the mailbox user, checked before any request."""
    user = mailbox_user(settings)
    if not user:
        raise ConfigError(
            f"Whose mailbox? Set {settings.env_name('imap_user')} (or "
            f"{settings.env_name('email')}): the sign-in is kept under it"
        )
    client = client_from_settings(settings, provider)
    if client.provider.needs_secret and not client.client_secret:
        raise ConfigError(
            f"{settings.env_name('imap_oauth_client_secret')} is not set: "
            f"{client.provider.title}'s desktop clients send their client secret too"
        )
    return client, user


def mail_login(
    settings: Settings,
    *,
    provider: str | None,
    timeout: float,
    tell: Tell,
    open_browser: Callable[[str], object],
    keep: bool = True,
) -> SignedIn:
    """Sign in, keep the refresh token (unless `keep` is False: the caller prints it), and
    check the mailbox with the new access token when an IMAP host is set."""
    name = chosen_provider(settings, provider)
    client, user = login_client(settings, name)
    if keep:
        from automation.store import keyring_usable

        usable, reason = keyring_usable(MAIL_SERVICE)
        if not usable:
            raise ConfigError(
                f"No usable OS keyring ({reason}) to keep the refresh token in: run with "
                f"--show-refresh-token and keep it in "
                f"{settings.env_name('imap_oauth_refresh_token')} instead"
            )
    if client.provider.flow == "device":
        tokens = device_login(client, lambda code: tell(device_text(client, code)), timeout=timeout)
    else:
        tokens = loopback_login(
            client,
            lambda url: tell(
                f"Sign in to {client.provider.title} as {user} in the browser; if none "
                f"opens, open this address in a browser on this machine:\n{url}"
            ),
            open_browser,
            timeout=timeout,
            login_hint=user,
        )
    refresh_token = str(tokens["refresh_token"])
    stored_in = None
    if keep:
        saved = SavedLogin(
            provider=name,
            user=user,
            refresh_token=refresh_token,
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_url=client.token_url,
            scope=client.scope,
        )
        stored_in = save_login(saved)
    done = SignedIn(name, user, stored_in, "", "" if keep else refresh_token)
    done.checked = check_mailbox(settings, client, user, refresh_token, tokens, stored_in)
    if settings.imap_auth == "password":
        done.notes.append(
            f"To use it, set {settings.env_name('imap_auth')}=xoauth2"
            + (f" (imap_auth in [accounts.{settings.account}])" if settings.account else "")
        )
    return done


def device_text(client: OAuthClient, code: DeviceCode) -> str:
    minutes = max(1, round(code.expires_in / 60))
    text = (
        f"To sign in to {client.provider.title}, open {code.verification_uri} in any browser "
        f"and enter the code {code.user_code} (valid {minutes} min)"
    )
    if code.verification_uri_complete:
        text += f"; or open {code.verification_uri_complete}"
    return text


def check_mailbox(
    settings: Settings,
    client: OAuthClient,
    user: str,
    refresh_token: str,
    tokens: dict[str, Any],
    stored_in: str | None,
) -> str:
    """Log in to the mailbox with the fresh access token, as a run would."""
    if not settings.imap_host:
        return f"The mailbox was not checked: {settings.env_name('imap_host')} is not set"
    auth = settings.imap_auth if settings.imap_auth != "password" else "xoauth2"
    source = RefreshTokenSource(
        client, refresh_token, user=user, kept_in="just issued", fix="run the command again"
    )
    source.start_with(tokens)
    mail = replace(
        mail_settings(with_values(settings, imap_auth="password")),
        auth=auth,  # type: ignore[arg-type]
        token_source=source,
    )
    inbox = Inbox(mail)
    try:
        inbox.open()
    except MailError as exc:
        kept = f"The sign-in is kept in {stored_in}, but" if stored_in else "But"
        raise MailError(f"{kept} the mailbox check failed: {exc.message}", hint=exc.hint) from None
    finally:
        inbox.close()
    return f"IMAP login with {MECHANISMS[auth]} at {inbox.where} works ({mail.folder} of {user})"


def mail_logout(settings: Settings, provider: str | None) -> str:
    """Forget the kept sign-in of the mailbox; ConfigError when there is none."""
    name = chosen_provider(settings, provider)
    user = mailbox_user(settings)
    if not user:
        raise ConfigError(
            f"Whose mailbox? Set {settings.env_name('imap_user')} (or {settings.env_name('email')})"
        )
    if not delete_login(name, user):
        raise ConfigError(f"Nothing to forget: {location(name, user)} holds no sign-in")
    return (
        f"Forgot the {PROVIDERS[name].title} sign-in of {user} ({location(name, user)}); "
        "the provider may still list the app: remove its access in your account's security "
        "settings to revoke the refresh token"
    )
