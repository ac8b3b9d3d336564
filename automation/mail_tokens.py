"""Which token source the settings choose for an OAuth2 IMAP login, found before anything
connects: the token command when one is set, else a refresh token from the environment,
else the sign-in `htx-keys mail login` kept in the OS keyring. A missing one is a one-line
ConfigError naming what to run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from automation.config import Settings
from automation.errors import ConfigError
from automation.oauth_client import (
    PROVIDERS,
    OAuthClient,
    client_from_settings,
    no_provider_message,
    provider_name,
)
from automation.oauth_tokens import CommandTokenSource, RefreshTokenSource, TokenSource

if TYPE_CHECKING:
    from automation.oauth_keyring import SavedLogin


def mailbox_user(settings: Settings) -> str:
    return settings.imap_user or settings.email or ""


def login_command(settings: Settings, provider: str) -> str:
    """The exact command that signs this mailbox in again."""
    account = f" --account {settings.account}" if settings.account else ""
    return f"htx-keys mail login --provider {provider}{account}"


def token_source(settings: Settings) -> TokenSource | None:
    """None for a password login; else where the access tokens come from."""
    if settings.imap_auth == "password":
        return None
    if settings.imap_oauth_token_command:
        command = CommandTokenSource(
            settings.imap_oauth_token_command,
            label=settings.env_name("imap_oauth_token_command"),
        )
        command.check()
        return command
    provider = provider_name(settings)
    if provider is None:
        raise ConfigError(no_provider_message(settings))
    user = mailbox_user(settings)
    if not user:
        raise ConfigError("The IMAP user is not set (HTX_IMAP_USER, or HTX_EMAIL)")
    if settings.imap_oauth_refresh_token:
        variable = settings.env_name("imap_oauth_refresh_token")
        return RefreshTokenSource(
            client_from_settings(settings, provider),
            settings.imap_oauth_refresh_token,
            user=user,
            kept_in=f"in {variable}",
            fix=f"run `{login_command(settings, provider)} --show-refresh-token` and put the "
            f"new refresh token in {variable}",
        )
    from automation.oauth_keyring import MAIL_SERVICE, load_login

    saved, problem = load_login(provider, user)
    if saved is None:
        why = f" (the OS keyring could not be read: {problem})" if problem else ""
        raise ConfigError(
            f"{settings.env_name('imap_auth')}={settings.imap_auth} needs a sign-in for {user}: "
            f"run `{login_command(settings, provider)}` once, or set "
            f"{settings.env_name('imap_oauth_token_command')}{why}"
        )
    client = OAuthClient(
        provider=PROVIDERS[provider],
        client_id=saved.client_id,
        client_secret=saved.client_secret,
        token_url=saved.token_url,
        auth_url=None,
        device_url=None,
        scope=saved.scope,
    )
    return RefreshTokenSource(
        client,
        saved.refresh_token,
        user=user,
        kept_in=f"in the OS keyring, service {MAIL_SERVICE}",
        fix=f"run `{login_command(settings, provider)}` to sign in again",
        on_rotate=lambda token: _keep(saved.with_refresh_token(token)),
    )


def _keep(login: SavedLogin) -> None:
    """A rotated refresh token replaces the saved one (Microsoft's rotate with each use)."""
    from automation.oauth_keyring import save_login

    save_login(login)
