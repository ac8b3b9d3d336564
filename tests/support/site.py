"""The sandbox as end-to-end tests meet it: a site_factory fixture that makes sandboxes over
HTTP, each with its own account (own GA seed, own mailbox on the private Dovecot, delivered
over LMTP); team_factory, one sandbox whose accounts' addresses are aliases of one mailbox;
and `Site`, which hands the tool the settings that reach an account.

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

__all__ = [
    "Site",
    "SiteFactory",
    "TeamFactory",
    "htx_site",
    "new_site",
    "site_factory",
    "team_factory",
]

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
TeamFactory = Callable[..., list[Site]]


def new_site(
    dovecot: Dovecot,
    stack: ExitStack,
    state_dir: Path,
    account: dict[str, Any] | None = None,
    **config: Any,
) -> Site:
    """A started sandbox (stopped by `stack`) with its own account and Dovecot mailbox."""
    (site,) = serve_sites(dovecot, stack, state_dir, [account or {}], shared=False, **config)
    return site


def serve_sites(
    dovecot: Dovecot,
    stack: ExitStack,
    state_dir: Path,
    tables: list[dict[str, Any]],
    *,
    shared: bool,
    **config: Any,
) -> list[Site]:
    """One started server (stopped by `stack`) with an account per table: each with its own
    mailbox, or (`shared`) all delivering into one mailbox under addresses of their own."""
    box = f"user{secrets.token_hex(4)}"
    imap_password = secrets.token_urlsafe(12)
    dovecot.add_user(box, imap_password)
    accounts = []
    for table in tables:
        user = f"user{secrets.token_hex(4)}" if shared else box
        values: dict[str, Any] = {
            "email": f"{user}@example.test",
            "password": secrets.token_urlsafe(12),
            "totp_secret": pyotp.random_base32(),
            "uid": next(_uids),
            "mailbox": f"{user}@example.test",
            "deliver_to": f"{box}@example.test" if shared else "",
            "sub_uids": (next(_uids), next(_uids)),
        }
        values.update(table)
        accounts.append(Account(**values))
    target = MailTarget.parse(f"lmtp://127.0.0.1:{dovecot.lmtp_port}")
    config.setdefault("totp_step_s", SHORT_TOTP_STEP_S)
    server = SandboxServer(SandboxConfig(accounts=accounts, mail_target=target, **config))
    stack.enter_context(server)
    return [Site(server, account, dovecot, box, imap_password, state_dir) for account in accounts]


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
        serve = _server_maker(dovecot, tmp_path, leak_sites, stack)

        def make(account: dict[str, Any] | None = None, **config: Any) -> Site:
            (site,) = serve([account or {}], shared=False, **config)
            return site

        yield make


@pytest.fixture
def team_factory(
    dovecot: Dovecot,
    tmp_path: Path,
    leak_sites: list[Site],
) -> Iterator[TeamFactory]:
    """Make one sandbox with several accounts whose addresses are aliases of one Dovecot
    mailbox (a team inbox): each account's mail is addressed to it and lands in the mailbox
    they all read. Returns a Site per account; keywords as for site_factory's config."""
    with ExitStack() as stack:
        serve = _server_maker(dovecot, tmp_path, leak_sites, stack)

        def make(count: int = 2, **config: Any) -> list[Site]:
            return serve([{} for _ in range(count)], shared=True, **config)

        yield make


def _server_maker(
    dovecot: Dovecot, tmp_path: Path, leak_sites: list[Site], stack: ExitStack
) -> Callable[..., list[Site]]:
    def serve(tables: list[dict[str, Any]], *, shared: bool, **config: Any) -> list[Site]:
        sites = serve_sites(dovecot, stack, tmp_path / "state", tables, shared=shared, **config)
        leak_sites.extend(sites)
        return sites

    return serve


@pytest.fixture
def htx_site(site_factory: SiteFactory) -> Site:
    return site_factory()
