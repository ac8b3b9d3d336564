"""End-to-end fixtures: the sandbox over HTTP with mail to a private Dovecot (TLS)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest

from sandbox.accounts import Account
from sandbox.mailer import MailTarget
from sandbox.server import SandboxConfig, SandboxServer
from tests.support.dovecot import Dovecot, dovecot  # noqa: F401  (fixture)
from tests.support.keyring_env import secret_service  # noqa: F401  (fixture)

_uids = itertools.count(20000001)


@dataclass
class Site:
    server: SandboxServer
    account: Account
    dovecot: Dovecot
    imap_user: str
    imap_password: str
    state_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The settings `htx-keys provision` needs, as environment variables."""
        values = {
            "HTX_BASE_URL": self.server.base_url,
            "HTX_API_URL": self.server.base_url,
            "HTX_EMAIL": self.account.email,
            "HTX_PASSWORD": self.account.password,
            "HTX_TOTP_SECRET": self.account.totp_secret,
            "HTX_IMAP_HOST": "127.0.0.1",
            "HTX_IMAP_PORT": str(self.dovecot.imaps_port),
            "HTX_IMAP_USER": self.imap_user,
            "HTX_IMAP_PASSWORD": self.imap_password,
            "HTX_IMAP_SECURITY": "tls",
            "HTX_IMAP_CA_FILE": str(self.dovecot.ca_file),
            "HTX_MAIL_FROM": "*@htx.com",
            "HTX_KEYS_STATE_DIR": str(self.state_dir),
        }
        values.update(extra)
        return values

    @property
    def secrets(self) -> dict[str, str]:
        return {
            "password": self.account.password,
            "TOTP seed": self.account.totp_secret,
            "IMAP password": self.imap_password,
        }


SiteFactory = Callable[..., Site]


@pytest.fixture
def site_factory(dovecot: Dovecot, tmp_path: Path) -> Iterator[SiteFactory]:  # noqa: F811
    """Make sandboxes with their own account (own GA seed, own mailbox), delivering over LMTP.

    `account` keywords go to the Account (captcha, auth_factors...), `config` keywords to the
    SandboxConfig (captcha mode, new_device_check...).
    """
    with ExitStack() as stack:

        def make(account: dict[str, Any] | None = None, **config: Any) -> Site:
            user = f"user{secrets.token_hex(4)}"
            imap_password = secrets.token_urlsafe(12)
            dovecot.add_user(user, imap_password)
            values: dict[str, Any] = {
                "email": f"{user}@example.test",
                "password": secrets.token_urlsafe(12),
                "totp_secret": pyotp.random_base32(),
                "uid": next(_uids),
                "mailbox": f"{user}@example.test",
                "sub_uids": (next(_uids), next(_uids)),
            }
            values.update(account or {})
            target = MailTarget.parse(f"lmtp://127.0.0.1:{dovecot.lmtp_port}")
            server = SandboxServer(
                SandboxConfig(accounts=[Account(**values)], mail_target=target, **config)
            )
            stack.enter_context(server)
            return Site(
                server, Account(**values), dovecot, user, imap_password, tmp_path / "state"
            )

        yield make


@pytest.fixture
def htx_site(site_factory: SiteFactory) -> Site:
    return site_factory()
