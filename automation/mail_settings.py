"""The mailbox settings of the verification-code inbox, checked before anything connects:
where, how (TLS, STARTTLS, plain only on loopback), who, and which senders count."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from automation.errors import ConfigError, InputError
from automation.hosts import is_loopback_host
from automation.mailparse import DEFAULT_CODE_PATTERN

if TYPE_CHECKING:
    from automation.oauth_tokens import TokenSource

DEFAULT_SENDERS: tuple[str, ...] = ("*@htx.com", "*@*.htx.com", "*@huobi.com", "*@*.huobi.com")


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int | None  # None = 993 for tls, 143 for starttls/plain
    user: str
    password: str = field(repr=False)
    # password, or an OAuth2 access token from token_source (automation.mail_auth)
    auth: Literal["password", "xoauth2", "oauthbearer"] = "password"
    token_source: TokenSource | None = field(default=None, repr=False, compare=False)
    security: Literal["tls", "starttls", "plain"] = "tls"
    ca_file: Path | None = None
    senders: tuple[str, ...] = DEFAULT_SENDERS
    code_pattern: str = DEFAULT_CODE_PATTERN
    folder: str = "INBOX"
    poll_interval: float = 2.0
    # Whose mail counts when accounts share the mailbox (mailparse.addressed_to): the
    # account's address (None: not known, e.g. a login by phone), and the addresses of the
    # other accounts known to read the same mailbox.
    account_address: str | None = None
    other_addresses: tuple[str, ...] = ()

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143


def parse_senders(text: str) -> tuple[str, ...]:
    """'a@x.com, *@htx.com' -> ('a@x.com', '*@htx.com'); commas, semicolons or spaces separate."""
    patterns = tuple(p for p in re.split(r"[,;\s]+", text) if p)
    if not patterns:
        raise InputError("No sender patterns given: expected e.g. '*@htx.com, *@*.htx.com'")
    for pattern in patterns:
        if pattern.count("@") != 1:
            raise InputError(f"Sender pattern {pattern!r} must hold one '@', e.g. '*@htx.com'")
    return patterns


def check_settings(s: MailSettings) -> None:
    """Raise ConfigError for settings that cannot work or would leak the password."""
    if not s.host:
        raise ConfigError("The IMAP host is not set")
    if s.security not in ("tls", "starttls", "plain"):
        raise ConfigError(f"IMAP security must be tls, starttls or plain, not {s.security!r}")
    if s.security == "plain" and not is_loopback_host(s.host):
        raise ConfigError(
            f"IMAP security 'plain' would send the password unencrypted to {s.host}: "
            "it is allowed only to a loopback host; use tls or starttls"
        )
    if s.port is not None and not 0 < s.port < 65536:
        raise ConfigError(f"The IMAP port {s.port} is not a valid port number")
    if s.auth not in ("password", "xoauth2", "oauthbearer"):
        raise ConfigError(f"IMAP auth must be password, xoauth2 or oauthbearer, not {s.auth!r}")
    if s.auth == "password" and (not s.user or not s.password):
        raise ConfigError("The IMAP user and password must both be set")
    if s.auth != "password" and not s.user:
        raise ConfigError("The IMAP user must be set")
    if s.auth != "password" and s.token_source is None:
        raise ConfigError(f"IMAP auth {s.auth} needs a source of OAuth2 access tokens")
    if s.ca_file is not None and not Path(s.ca_file).is_file():
        raise ConfigError(f"The IMAP CA file {s.ca_file} does not exist")
    if not s.senders:
        raise InputError("No sender patterns given: expected e.g. '*@htx.com'")
    try:
        groups = re.compile(s.code_pattern).groups
    except re.error as exc:
        raise ConfigError(f"The verification code pattern is not a valid regex: {exc}") from None
    if groups < 1:
        raise ConfigError("The verification code pattern needs a group (...) around the code")
    if not s.poll_interval > 0:
        raise ConfigError("The IMAP poll interval must be positive")


# -- reading a message -------------------------------------------------------------------------
