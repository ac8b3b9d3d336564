"""Two accounts named in one accounts file, each with its own secrets, site and mailbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.site import Site, SiteFactory

pytestmark = [pytest.mark.e2e, pytest.mark.cost(20)]


def account_table(name: str, site: Site) -> str:
    return f"""
[accounts.{name}]
email = "{site.account.email}"
base_url = "{site.server.base_url}"
api_url = "{site.server.base_url}"
imap_host = "127.0.0.1"
imap_port = {site.dovecot.imaps_port}
imap_user = "{site.imap_user}"
imap_security = "tls"
imap_ca_file = "{site.dovecot.ca_file}"
mail_from = "*@htx.com"
permissions = ["read", "trade"]
"""


def account_secrets(name: str, site: Site) -> dict[str, str]:
    suffix = name.upper().replace("-", "_")
    return {
        f"HTX_PASSWORD_{suffix}": site.account.password,
        f"HTX_TOTP_SECRET_{suffix}": site.account.totp_secret,
        f"HTX_IMAP_PASSWORD_{suffix}": site.imap_password,
    }


def test_two_accounts_from_one_config_file(site_factory: SiteFactory, tmp_path: Path) -> None:
    alice, bob = site_factory(), site_factory()
    config = tmp_path / "accounts.toml"
    config.write_text(account_table("alice", alice) + account_table("bob-2", bob))
    env = {
        "HTX_KEYS_CONFIG": str(config),
        "HTX_KEYS_STATE_DIR": str(tmp_path / "state"),
        # The sites' GA step (site_factory's): an environment setting, never an account's.
        "HTX_TOTP_PERIOD": str(alice.totp_step_s),
        # A generic password must not leak into either account.
        "HTX_PASSWORD": "not-for-named-accounts",
        **account_secrets("alice", alice),
        **account_secrets("bob-2", bob),
    }
    store = f"json:{tmp_path / 'keys.json'}"
    made = {}
    for name, site in (("alice", alice), ("bob-2", bob)):
        run = run_cli(
            [
                "provision",
                "--account",
                name,
                "--note",
                f"for {name}",
                "--store",
                store,
                "--format",
                "json",
            ],
            env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.explain()
        out = json.loads(run.stdout)
        assert out["permissions"] == ["read", "trade"]  # the account's default
        assert out["verified"] is True
        (key,) = site.server.state.keys_for(site.account.email)
        assert key.access_key == out["access_key"] and key.note == f"for {name} [htx-keys]"
        made[name] = out["access_key"]

    records = {
        r["access_key"]: r["account"] for r in json.loads((tmp_path / "keys.json").read_text())
    }
    assert records == {made["alice"]: alice.account.email, made["bob-2"]: bob.account.email}

    run = run_cli(["provision", "--account", "carol", "--note", "x"], env, cwd=tmp_path)
    assert run.returncode == 3, run.explain()
    assert run.stderr.strip() == (
        f"htx-keys: error: No account 'carol' in {config}; the accounts there are: alice, bob-2"
    )
