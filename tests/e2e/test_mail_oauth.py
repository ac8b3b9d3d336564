"""The mailbox over OAuth2 against a real Dovecot whose oauth2 passdb asks a local token
introspection endpoint (tests/support/oauth_provider.py): XOAUTH2 and OAUTHBEARER, tokens
from the refresh grant and from a token command, an access token ended early, a revoked
sign-in, doctor's rows, and `htx-keys mail login` by device code and by loopback redirect,
with the OS keyring. No browser: the mail path only."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyring.backend import KeyringBackend

from automation.config import Settings, load_settings
from automation.errors import MailError
from automation.keyring_chunks import delete_long, read_long
from automation.mail import Inbox
from automation.oauth_keyring import MAIL_SERVICE
from automation.oauth_tokens import RefreshTokenSource
from htx_keys.app.checks import check_mailbox, check_settings_rows
from htx_keys.app.preflight import mail_settings
from tests.support.cli import invoke, run_cli
from tests.support.keyring_env import secret_service, secret_tool_lookup  # noqa: F401
from tests.support.oauth_provider import OAuthMail, oauth_mail  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.cost(15)]
SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"
CLIENT = "htx-keys-test-client"


def verification_mail(code: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "HTX <noreply@htx.com>"
    msg["To"] = to
    msg["Subject"] = "[HTX] Verification code"
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg.set_content(f"Your verification code is {code}. It is valid for 10 minutes.")
    return msg.as_bytes()


@dataclass
class Box:
    mail: OAuthMail
    user: str

    @property
    def provider(self) -> Any:
        return self.mail.provider

    def env(self, **extra: str) -> dict[str, str]:
        """The settings of a run that reads this mailbox with OAuth2 (Microsoft's flow)."""
        server, provider = self.mail.dovecot, self.mail.provider
        values = {
            "HTX_EMAIL": self.user,
            "HTX_PASSWORD": "pw-not-used",
            "HTX_TOTP_SECRET": SEED,
            "HTX_IMAP_HOST": "localhost",
            "HTX_IMAP_PORT": str(server.imaps_port),
            "HTX_IMAP_CA_FILE": str(server.ca_file),
            "HTX_IMAP_AUTH": "xoauth2",
            "HTX_IMAP_OAUTH_PROVIDER": "microsoft",
            "HTX_IMAP_OAUTH_CLIENT_ID": CLIENT,
            "HTX_IMAP_OAUTH_TOKEN_URL": provider.token_url,
            "HTX_IMAP_OAUTH_DEVICE_URL": provider.device_url,
            "HTX_IMAP_OAUTH_AUTH_URL": provider.auth_url,
        }
        values.update(extra)
        return values

    def settings(self, **extra: str) -> Settings:
        return load_settings(environ=self.env(**extra), env_file=None)

    def deliver(self, code: str) -> None:
        self.mail.dovecot.deliver(self.user, verification_mail(code, self.user))


@pytest.fixture
def box(
    oauth_mail: OAuthMail,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    leak_secrets: dict[str, str],
) -> Iterator[Box]:
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    oauth_mail.provider.add_client(CLIENT)
    mailbox = Box(oauth_mail, f"oauth-{secrets.token_hex(4)}@example.test")
    yield mailbox
    for n, token in enumerate(oauth_mail.provider.issued()):
        leak_secrets[f"OAuth2 token {n}"] = token


@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
def test_a_refresh_token_reads_the_code_and_the_access_token_is_reused(box: Box, auth: str) -> None:
    refresh = box.provider.grant(box.user, CLIENT)
    before = box.provider.counts.refresh
    mail = mail_settings(box.settings(HTX_IMAP_AUTH=auth, HTX_IMAP_OAUTH_REFRESH_TOKEN=refresh))
    with Inbox(mail) as inbox:
        inbox.mark()
        box.deliver("424242")
        assert inbox.wait_for_code(timeout=30) == "424242"
        inbox.close()
        inbox.open()  # a reconnect: the access token from memory, no second refresh
    assert box.provider.counts.refresh == before + 1


def test_an_access_token_ended_early_is_replaced_by_a_refresh(box: Box) -> None:
    refresh = box.provider.grant(box.user, CLIENT)
    mail = mail_settings(box.settings(HTX_IMAP_OAUTH_REFRESH_TOKEN=refresh))
    source = mail.token_source
    assert isinstance(source, RefreshTokenSource)
    with Inbox(mail) as inbox:
        box.provider.expire(source.access_token())  # the provider ends it; we still hold it
        inbox.close()
        inbox.open()  # refused by Dovecot once, refreshed, accepted
    assert source.refreshes == 2


def test_a_revoked_sign_in_stops_provision_before_any_browser(box: Box, tmp_path: Path) -> None:
    refresh = box.provider.grant(box.user, CLIENT)
    box.provider.revoke(refresh)
    env = box.env(HTX_IMAP_OAUTH_REFRESH_TOKEN=refresh, HTX_BASE_URL="http://127.0.0.1:9")
    result = invoke(["provision", "--note", "t", "--store", f"json:{tmp_path / 'k.json'}"], env)
    assert result.exit_code == 6, result.output
    assert result.stderr.splitlines()[-1] == (
        f"htx-keys: error: Microsoft refused the OAuth2 refresh token for {box.user} "
        "(invalid_grant: The refresh token has expired or was revoked): it has expired or was "
        "revoked; run `htx-keys mail login --provider microsoft --show-refresh-token` and put "
        "the new refresh token in HTX_IMAP_OAUTH_REFRESH_TOKEN"
    )
    assert refresh not in result.output and not (tmp_path / "k.json").exists()


def token_command(tmp_path: Path, token_file: Path) -> str:
    """A command that prints the token in `token_file` (a .env file: it holds a secret on
    purpose, as the leak check sees it), the way a password manager's CLI would."""
    script = tmp_path / "print-token.py"
    script.write_text(f"print(open({str(token_file)!r}).read().split('=', 1)[1])\n")
    return f"{sys.executable} {script}"


def test_a_token_command_logs_in_and_an_expired_token_says_what_to_fix(
    box: Box, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.env"
    token_file.write_text(f"TOKEN={box.provider.mint_access(box.user)}")
    settings = box.settings(
        HTX_IMAP_AUTH="oauthbearer",
        HTX_IMAP_OAUTH_TOKEN_COMMAND=token_command(tmp_path, token_file),
    )
    with Inbox(mail_settings(settings)):
        pass
    box.provider.expire(token_file.read_text().split("=", 1)[1])
    with pytest.raises(MailError) as info:
        Inbox(mail_settings(settings)).open()
    port = box.mail.dovecot.imaps_port
    assert str(info.value) == (
        f"IMAP server localhost:{port} refused the access token from HTX_IMAP_OAUTH_TOKEN_COMMAND "
        f"for {box.user} (OAUTHBEARER: [AUTHENTICATIONFAILED] Authentication failed.): it may "
        f"have expired or been revoked; make HTX_IMAP_OAUTH_TOKEN_COMMAND "
        f"({Path(sys.executable).name}) print a fresh access token"
    )


def test_doctor_checks_the_mailbox_with_oauth2(box: Box) -> None:
    refresh = box.provider.grant(box.user, CLIENT)
    settings = box.settings(HTX_IMAP_OAUTH_REFRESH_TOKEN=refresh)
    rows, mail = check_settings_rows(settings)
    assert rows[2].detail == f"{box.user} at localhost:{box.mail.dovecot.imaps_port} (tls, xoauth2)"
    row = check_mailbox(mail)
    assert (row.result, row.detail) == (
        "pass",
        f"localhost:{box.mail.dovecot.imaps_port} (TLS, certificate checked); INBOX of "
        f"{box.user}, logged in with XOAUTH2 and the access token from Microsoft (refresh token "
        "in HTX_IMAP_OAUTH_REFRESH_TOKEN)",
    )
    box.provider.revoke(refresh)
    rows, mail = check_settings_rows(settings)
    row = check_mailbox(mail)
    assert row.result == "FAIL" and "run `htx-keys mail login --provider microsoft" in row.detail


# -- htx-keys mail login ------------------------------------------------------------------------


@pytest.fixture
def signed_in(box: Box, secret_service: KeyringBackend) -> Iterator[Box]:  # noqa: F811
    """The box, its keyring entries removed afterwards."""
    yield box
    box.provider.refresh_bytes = 24
    for provider in ("microsoft", "google"):
        if keyring.get_password(MAIL_SERVICE, f"{provider}:{box.user}") is not None:
            delete_long(MAIL_SERVICE, f"{provider}:{box.user}")


def approve_when_asked(box: Box) -> None:
    """The person: reads the code on the terminal and types it in a browser."""
    provider = box.provider
    provider.device_requested.clear()

    def person() -> None:
        if provider.device_requested.wait(30):
            (grant,) = [g for g in provider.devices.values() if g.client_id == CLIENT]
            provider.approve(grant.user_code, box.user)

    threading.Thread(target=person, daemon=True).start()


def test_mail_login_by_device_code_keeps_the_sign_in_for_later_runs(signed_in: Box) -> None:
    box, provider = signed_in, signed_in.provider
    provider.refresh_bytes = 1500  # as long as Microsoft's: more than one Windows entry holds
    approve_when_asked(box)
    env = box.env(HTX_IMAP_AUTH="password")  # not switched yet: the login says how
    result = invoke(["mail", "login", "--provider", "microsoft"], env)
    assert result.exit_code == 0, result.output
    entry = f"microsoft:{box.user}"
    port = box.mail.dovecot.imaps_port
    assert result.stdout.splitlines() == [
        f"Signed in to Microsoft as {box.user}: the refresh token is in the OS keyring (service "
        f"{MAIL_SERVICE}, entry {entry})",
        f"IMAP login with XOAUTH2 at localhost:{port} works (INBOX of {box.user})",
        "To use it, set HTX_IMAP_AUTH=xoauth2",
    ]
    assert f"{provider.url}/device in any browser and enter the code " in result.stderr
    assert (secret_tool_lookup(MAIL_SERVICE, entry) or "").startswith("htx-keys-chunked:")
    saved = json.loads(read_long(MAIL_SERVICE, entry) or "{}")
    assert provider.refresh[saved["refresh_token"]].user == box.user
    assert saved["token_url"] == provider.token_url and saved["client_id"] == CLIENT
    assert saved["refresh_token"] not in result.output
    # A later run: nothing in the environment but the method; the keyring has the rest.
    later = mail_settings(box.settings(HTX_IMAP_OAUTH_TOKEN_URL=""))
    with Inbox(later):
        pass
    result = invoke(["mail", "logout", "--provider", "microsoft"], env)
    assert result.exit_code == 0, result.output
    assert secret_tool_lookup(MAIL_SERVICE, entry) is None


def test_mail_login_by_loopback_redirect_as_a_user_runs_it(signed_in: Box, tmp_path: Path) -> None:
    box, provider = signed_in, signed_in.provider
    provider.add_client("google-client", "google-secret")
    provider.browser_user = box.user
    browser = tmp_path / "browser"  # what $BROWSER runs: it follows the address it is given
    browser.write_text(
        f"#!{sys.executable}\nimport sys, urllib.request\n"
        "urllib.request.urlopen(sys.argv[1], timeout=20).read()\n"
    )
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    env = box.env(
        HTX_IMAP_AUTH="oauthbearer",
        HTX_IMAP_OAUTH_PROVIDER="google",
        HTX_IMAP_OAUTH_CLIENT_ID="google-client",
        HTX_IMAP_OAUTH_CLIENT_SECRET="google-secret",
        BROWSER=str(browser),
    )
    result = run_cli(["mail", "login"], env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.explain()
    port = box.mail.dovecot.imaps_port
    assert result.stdout.splitlines() == [
        f"Signed in to Google as {box.user}: the refresh token is in the OS keyring (service "
        f"{MAIL_SERVICE}, entry google:{box.user})",
        f"IMAP login with OAUTHBEARER at localhost:{port} works (INBOX of {box.user})",
    ]
    (asked,) = [a for a in provider.counts.authorize if a["client_id"] == "google-client"]
    assert asked["code_challenge_method"] == "S256" and asked["login_hint"] == box.user
    assert "google-secret" not in result.stdout + result.stderr


def test_mail_login_can_print_the_refresh_token_for_ci_instead(box: Box) -> None:
    approve_when_asked(box)
    result = invoke(["mail", "login", "--show-refresh-token"], box.env())
    assert result.exit_code == 0, result.output
    *summary, token = result.stdout.splitlines()
    assert summary[0] == (
        f"Signed in to Microsoft as {box.user}: the refresh token is on the last line (not stored)"
    )
    assert box.provider.refresh[token].user == box.user  # printed whole, as asked
    assert keyring.get_password(MAIL_SERVICE, f"microsoft:{box.user}") is None
    later = mail_settings(box.settings(HTX_IMAP_OAUTH_REFRESH_TOKEN=token))
    with Inbox(later):
        pass
