"""The sandbox as end-to-end tests meet it: a site_factory fixture that makes sandboxes over
HTTP, each with its own account (own GA seed, own mailbox on the private Dovecot, delivered
over LMTP), and `Site`, which hands the tool the settings that reach one.

A pytest plugin: tests/e2e/conftest.py imports its fixtures. Every site it makes is added to
`leak_sites`, so the leak check (tests/support/leakcheck_plugin.py) knows its secrets.
"""

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
from sandbox.config import SandboxConfig
from sandbox.mailer import MailTarget
from sandbox.server import SandboxServer
from tests.support.dovecot import Dovecot
from tests.support.ga import SHORT_TOTP_STEP_S

__all__ = ["Site", "SiteFactory", "htx_site", "new_site", "site_factory"]

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
            "HTX_TOTP_PERIOD": str(self.totp_step_s),
        }
        values.update(extra)
        return values

    @property
    def totp_step_s(self) -> int:
        return self.server.config.totp_step_s

    def totp(self) -> pyotp.TOTP:
        """The account's authenticator app, with the site's time step."""
        return pyotp.TOTP(self.account.totp_secret, interval=self.totp_step_s)

    @property
    def secrets(self) -> dict[str, str]:
        return {
            "password": self.account.password,
            "TOTP seed": self.account.totp_secret,
            "IMAP password": self.imap_password,
        }


SiteFactory = Callable[..., Site]


def new_site(
    dovecot: Dovecot,
    stack: ExitStack,
    state_dir: Path,
    account: dict[str, Any] | None = None,
    **config: Any,
) -> Site:
    """A started sandbox (stopped by `stack`) with its own account and Dovecot mailbox."""
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
    config.setdefault("totp_step_s", SHORT_TOTP_STEP_S)
    server = SandboxServer(
        SandboxConfig(accounts=[Account(**values)], mail_target=target, **config)
    )
    stack.enter_context(server)
    return Site(server, Account(**values), dovecot, user, imap_password, state_dir)


@pytest.fixture
def site_factory(
    dovecot: Dovecot,
    tmp_path: Path,
    leak_sites: list[Site],
) -> Iterator[SiteFactory]:
    """Make sandboxes with their own account (own GA seed, own mailbox), delivering over LMTP.

    `account` keywords go to the Account (captcha, auth_factors...), `config` keywords to the
    SandboxConfig (captcha mode, new_device_check...). The GA step is SHORT_TOTP_STEP_S, and
    Site.env() gives the tool the same period, unless `totp_step_s` says otherwise (30 for a
    test of the live site's timing).
    """
    with ExitStack() as stack:

        def make(account: dict[str, Any] | None = None, **config: Any) -> Site:
            site = new_site(dovecot, stack, tmp_path / "state", account, **config)
            leak_sites.append(site)
            return site

        yield make


@pytest.fixture
def htx_site(site_factory: SiteFactory) -> Site:
    return site_factory()
