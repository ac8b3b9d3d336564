"""Two accounts: named in one accounts file, each with its own secrets, site and mailbox;
two accounts whose mail lands in one mailbox, provisioning at the same time; and a code taken
from a mail that named nobody, refused, giving way to the account's own older one."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from automation.mailparse import extract_code
from sandbox.mailer import build_verification_mail
from tests.support.accounts_file import account_secrets, account_table
from tests.support.cli import Background, run_cli
from tests.support.site import Site, SiteFactory, TeamFactory

pytestmark = [pytest.mark.e2e, pytest.mark.cost(75)]


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


def test_two_accounts_sharing_a_mailbox_provision_at_the_same_time(
    team_factory: TeamFactory, tmp_path: Path
) -> None:
    """Alice's and Bob's addresses are aliases of one team mailbox, which also gets a third
    colleague's verification mail all along: each run takes only its own account's code."""
    alice, bob = team_factory(2)
    assert alice.imap_user == bob.imap_user  # one mailbox, read by both runs
    server = alice.server
    stop = threading.Event()

    def colleague_mail() -> None:
        # Newer than anyone's own mail, from HTX's sender, with a code: the mail a run that
        # took the newest code would wrongly use.
        while not stop.wait(0.7):
            code = f"{secrets.randbelow(10**6):06d}"
            msg = build_verification_mail(
                code, "create", "carol@example.test", server.config.mail_from, datetime.now(UTC)
            )
            alice.dovecot.deliver(alice.imap_user, msg.as_bytes())

    store = f"json:{tmp_path / 'keys.json'}"
    flooder = threading.Thread(target=colleague_mail, daemon=True)
    flooder.start()
    try:
        runs = {
            site.account.email: Background(
                ["provision", "--note", f"team {n}", "--store", store, "--format", "json"],
                site.env(),
                tmp_path,
            )
            for n, site in enumerate((alice, bob), start=1)
        }
        done = {email: run.finish(timeout=300) for email, run in runs.items()}
    finally:
        stop.set()
        flooder.join(10)

    made = {}
    for site in (alice, bob):
        run = done[site.account.email]
        assert run.returncode == 0, run.explain()
        assert "refused the email code" not in run.stderr, run.explain()  # right the first time
        out = json.loads(run.stdout)
        (key,) = server.state.keys_for(site.account.email)
        assert key.access_key == out["access_key"]
        made[out["access_key"]] = site.account.email
    stored = json.loads((tmp_path / "keys.json").read_text())
    assert {r["access_key"]: r["account"] for r in stored} == made


def test_a_refused_code_gives_way_to_an_older_unused_one(
    htx_site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Right after the account's own mail, a mail from HTX's sender arrives sent blind (no
    header names anyone) with another code. Alone on its mailbox, the account takes it (the
    newest), HTX refuses it, and the older unused code of its own mail goes in instead."""
    site = htx_site
    mailer = site.server.app.state.ctx.mailer
    deliver = mailer.send

    def and_a_blind_one(msg: EmailMessage, rcpt: str, later_s: float = 0.0) -> None:
        deliver(msg, rcpt, later_s)
        code = extract_code(msg)
        assert code is not None
        other = f"{(int(code) + 1) % 10**6:06d}"
        blind = build_verification_mail(
            other, "create", rcpt, site.server.config.mail_from, datetime.now(UTC)
        )
        del blind["To"]
        site.dovecot.deliver(site.imap_user, blind.as_bytes())

    monkeypatch.setattr(mailer, "send", and_a_blind_one)
    store = f"json:{tmp_path / 'keys.json'}"
    run = run_cli(
        ["provision", "--note", "blind", "--store", store, "--format", "json"],
        site.env(HTX_MAIL_TIMEOUT="20"),
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.explain()
    assert run.stderr.count("HTX refused the email code; trying the next one") == 1, run.explain()
    (key,) = site.server.state.keys_for(site.account.email)
    assert key.access_key == json.loads(run.stdout)["access_key"]
