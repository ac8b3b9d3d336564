"""Which OAuth2 client signs in to a mailbox: the provider's endpoints and scope, and the
client id (and secret) the user registered with that provider.

Google and Microsoft are built in. Their endpoints can be replaced one by one
(HTX_IMAP_OAUTH_TOKEN_URL, ..._AUTH_URL, ..._DEVICE_URL, ..._SCOPE): for tests, and for
another provider that signs in the way one of the two does. The provider also decides how
`htx-keys mail login` gets the refresh token, the way each allows a command-line tool:
Microsoft by the device code flow (RFC 8628), Google by a loopback redirect with PKCE
(RFC 8252, RFC 7636); Google offers no device flow for mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from automation.config import Settings
from automation.errors import ConfigError
from automation.redaction import REDACTOR

Flow = Literal["loopback", "device"]


@dataclass(frozen=True)
class Provider:
    name: str
    title: str
    flow: Flow
    token_url: str
    auth_url: str | None
    device_url: str | None
    scope: str
    needs_secret: bool  # Google's desktop clients send their (not very secret) secret
    hosts: tuple[str, ...]  # IMAP hosts that tell the provider when none is set
    # Keys the authorization request carries besides the standard ones.
    auth_params: tuple[tuple[str, str], ...] = ()


_MICROSOFT = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"
PROVIDERS: dict[str, Provider] = {
    "google": Provider(
        name="google",
        title="Google",
        flow="loopback",
        token_url="https://oauth2.googleapis.com/token",
        auth_url="https://accounts.google.com/o/oauth2/v2/auth",
        device_url=None,
        scope="https://mail.google.com/",
        needs_secret=True,
        hosts=("imap.gmail.com", "imap.googlemail.com"),
        # offline: a refresh token; consent: a new one even when the app was allowed before
        auth_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
    "microsoft": Provider(
        name="microsoft",
        title="Microsoft",
        flow="device",
        token_url=f"{_MICROSOFT}/token",
        auth_url=f"{_MICROSOFT}/authorize",
        device_url=f"{_MICROSOFT}/devicecode",
        scope="https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
        needs_secret=False,
        hosts=("outlook.office365.com", "outlook.office.com", "imap-mail.outlook.com"),
    ),
}
DEFAULT_TENANT = "common"


@dataclass(frozen=True)
class OAuthClient:
    """Everything a token request needs besides the grant itself."""

    provider: Provider
    client_id: str
    client_secret: str | None = field(repr=False)
    token_url: str
    auth_url: str | None
    device_url: str | None
    scope: str

    @property
    def name(self) -> str:
        return self.provider.name


def provider_name(settings: Settings) -> str | None:
    """HTX_IMAP_OAUTH_PROVIDER, else the provider whose IMAP host this is; None if unknown."""
    if settings.imap_oauth_provider:
        return settings.imap_oauth_provider
    host = (settings.imap_host or "").lower().rstrip(".")
    return next((p.name for p in PROVIDERS.values() if host in p.hosts), None)


def no_provider_message(settings: Settings) -> str:
    return (
        f"{settings.env_name('imap_oauth_provider')} is not set and the IMAP host "
        f"{settings.imap_host or '(none)'} is not Google's or Microsoft's: set it to google "
        f"or microsoft, or set {settings.env_name('imap_oauth_token_command')}"
    )


def client_from_settings(settings: Settings, provider: str | None = None) -> OAuthClient:
    """The client the settings describe (`provider` overrides theirs); ConfigError naming
    the setting when one is missing."""
    name = provider or provider_name(settings)
    if name is None:
        raise ConfigError(no_provider_message(settings))
    preset = PROVIDERS[name]
    if not settings.imap_oauth_client_id:
        raise ConfigError(
            f"{settings.env_name('imap_oauth_client_id')} is not set: register an app with "
            f'{preset.title} and give its client id (README: "Mail with OAuth2")'
        )
    tenant = settings.imap_oauth_tenant or DEFAULT_TENANT

    def endpoint(given: str | None, default: str | None) -> str | None:
        return given or (default.format(tenant=tenant) if default else None)

    REDACTOR.add(settings.imap_oauth_client_secret, label="OAuth2 client secret")
    return OAuthClient(
        provider=preset,
        client_id=settings.imap_oauth_client_id,
        client_secret=settings.imap_oauth_client_secret or None,
        token_url=endpoint(settings.imap_oauth_token_url, preset.token_url) or "",
        auth_url=endpoint(settings.imap_oauth_auth_url, preset.auth_url),
        device_url=endpoint(settings.imap_oauth_device_url, preset.device_url),
        scope=settings.imap_oauth_scope or preset.scope,
    )
