"""The token logic of an OAuth2 mailbox login, against the tests' local authorization server
(loopback HTTP, tests/support/oauth_provider.py): when a refresh happens, what a refusal
says, the token command, the device and loopback sign-ins, and the settings that choose."""

from __future__ import annotations

import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from automation.config import Settings, load_settings
from automation.errors import ConfigError, MailError
from automation.mail_tokens import token_source
from automation.oauth_client import PROVIDERS, OAuthClient, client_from_settings
from automation.oauth_login import DeviceCode, device_login, loopback_login
from automation.oauth_tokens import CommandTokenSource, RefreshTokenSource
from automation.redaction import REDACTOR
from automation.schema import convert, token_command_argv
from tests.support.oauth_provider import Provider

AGAIN = "run `htx-keys mail login --provider microsoft` to sign in again"


@pytest.fixture
def provider() -> Iterator[Provider]:
    server = Provider(access_lifetime=600).start()
    server.add_client("cid")
    yield server
    server.stop()


def client(provider: Provider, name: str = "microsoft", secret: str | None = None) -> OAuthClient:
    return OAuthClient(
        provider=PROVIDERS[name],
        client_id="cid",
        client_secret=secret,
        token_url=provider.token_url,
        auth_url=provider.auth_url,
        device_url=provider.device_url,
        scope="mail offline_access",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def source(provider: Provider, refresh: str, **extra: Any) -> RefreshTokenSource:
    return RefreshTokenSource(
        client(provider), refresh, user="alice", kept_in="in the OS keyring", fix=AGAIN, **extra
    )


# -- the refresh token ------------------------------------------------------------------------


def test_an_access_token_is_kept_in_memory_until_a_minute_before_it_ends(
    provider: Provider,
) -> None:
    clock = Clock()
    tokens = source(provider, provider.grant("alice", "cid"), clock=clock)
    first = tokens.access_token()
    assert tokens.access_token() == first and provider.counts.refresh == 1
    clock.now += 600 - 61
    assert tokens.access_token() == first and provider.counts.refresh == 1
    clock.now += 2  # 59 s left: too close to the end for a login
    assert tokens.access_token() != first and provider.counts.refresh == 2
    assert REDACTOR.scrub(first) != first  # a secret from the moment it arrived


def test_renew_refreshes_only_a_token_from_memory(provider: Provider) -> None:
    tokens = source(provider, provider.grant("alice", "cid"))
    tokens.access_token()
    assert tokens.renew() is False  # fresh from the endpoint: another would not help
    tokens.access_token()  # refused tokens are forgotten all the same: a new one
    assert tokens.access_token() and tokens.renew() is True  # this one came from memory
    tokens.access_token()
    assert provider.counts.refresh == 3


def test_a_revoked_refresh_token_names_what_to_run(provider: Provider) -> None:
    refresh = provider.grant("alice", "cid")
    provider.revoke(refresh)
    with pytest.raises(MailError) as info:
        source(provider, refresh).access_token()
    assert str(info.value) == (
        "Microsoft refused the OAuth2 refresh token for alice (invalid_grant: The refresh token "
        f"has expired or was revoked): it has expired or was revoked; {AGAIN}"
    )
    assert refresh not in str(info.value) and info.value.exit_status == 6


def test_a_wrong_client_is_named(provider: Provider) -> None:
    provider.add_client("secretive", "s3cret")
    refresh = provider.grant("alice", "secretive")
    tokens = RefreshTokenSource(
        OAuthClient(PROVIDERS["google"], "secretive", "wrong", provider.token_url, None, None, "x"),
        refresh, user="alice", kept_in="here", fix="run it",
    )  # fmt: skip
    with pytest.raises(MailError) as info:
        tokens.access_token()
    assert str(info.value) == (
        "Google refused the OAuth2 client secretive (invalid_client: bad client secret): check "
        "its id and secret; run it"
    )


def test_an_unreachable_token_endpoint() -> None:
    gone = Provider().start()
    url = gone.token_url
    gone.stop()
    dead = OAuthClient(PROVIDERS["microsoft"], "cid", None, url, None, None, "x")
    tokens = RefreshTokenSource(dead, "rt-x", user="alice", kept_in="here", fix="run it")
    with pytest.raises(MailError) as info:
        tokens.access_token()
    assert str(info.value).startswith(f"Cannot get an access token from {url[7:-6]}: Connection")


def test_a_rotated_refresh_token_is_used_and_kept(provider: Provider) -> None:
    provider.rotate = True
    kept: list[str] = []
    clock = Clock()
    first = provider.grant("alice", "cid")
    tokens = source(provider, first, clock=clock, on_rotate=kept.append)
    tokens.access_token()
    assert len(kept) == 1 and kept[0] != first
    clock.now += 3600
    tokens.access_token()  # with the new one: the provider revoked the first on use
    assert len(kept) == 2 and provider.counts.refresh == 2


# -- the token command ------------------------------------------------------------------------


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "token.py"
    path.write_text(textwrap.dedent(body))
    return f"{sys.executable} {path}"


def test_the_command_runs_without_a_shell_and_its_first_line_is_the_token(
    tmp_path: Path,
) -> None:
    command = script(tmp_path, "import sys; print('at-' + str(len(sys.argv))); print('more')")
    tokens = CommandTokenSource(f"{command} 'a b' '$(reboot)' ';'", label="HTX_IMAP_OAUTH_X")
    tokens.check()
    assert tokens.access_token() == "at-4"  # three arguments, each taken literally
    assert REDACTOR.scrub("at-4") != "at-4"
    assert tokens.renew() is False


def test_a_failing_command_shows_its_stderr_but_never_a_token(tmp_path: Path) -> None:
    command = script(
        tmp_path,
        """
        import sys
        print("at-printed-then-failed")
        print("token expired; at-printed-then-failed was refused", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(MailError) as info:
        CommandTokenSource(command, label="HTX_IMAP_OAUTH_TOKEN_COMMAND").access_token()
    assert str(info.value) == (
        f"HTX_IMAP_OAUTH_TOKEN_COMMAND ({Path(sys.executable).name}) failed with exit status 3: "
        "token expired; ******** was refused"
    )


def test_a_command_that_hangs_is_stopped(tmp_path: Path) -> None:
    command = script(tmp_path, "import time; time.sleep(30)")
    tokens = CommandTokenSource(command, label="CMD", timeout=0.5)
    with pytest.raises(MailError, match=r"^CMD \(.*\) printed no access token within 0.5 s$"):
        tokens.access_token()


def test_a_missing_program_is_a_setting_error_before_anything_runs() -> None:
    with pytest.raises(ConfigError, match=r"^CMD: no-such-token-program: command not found"):
        CommandTokenSource("no-such-token-program --user me", label="CMD").check()


# -- the settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("imap_auth", "oauth", "HTX_IMAP_AUTH must be one of password, xoauth2, oauthbearer; "
         "not 'oauth'"),
        ("imap_oauth_token_url", "ftp://login.example.com/token", "HTX_IMAP_OAUTH_TOKEN_URL "
         "'ftp://login.example.com/token' must start with http:// or https://"),
        ("imap_oauth_token_command", "oama access 'me", "HTX_IMAP_OAUTH_TOKEN_COMMAND cannot be "
         "split into a command: No closing quotation"),
        ("imap_oauth_provider", "yahoo", "HTX_IMAP_OAUTH_PROVIDER must be one of google, "
         "microsoft; not 'yahoo'"),
    ],
)  # fmt: skip
def test_bad_oauth_settings_are_one_line_errors(name: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        convert(name, raw)
    assert str(info.value) == message


def test_plain_http_endpoints_only_to_this_machine() -> None:
    with pytest.raises(ConfigError) as info:
        Settings(imap_oauth_token_url="http://login.example.com/token")
    assert str(info.value) == (
        "HTX_IMAP_OAUTH_TOKEN_URL 'http://login.example.com/token' is not encrypted and not on "
        "this machine: use https://, or allow it with --allow-insecure-transport "
        "(HTX_KEYS_ALLOW_INSECURE_TRANSPORT=1)"
    )


def test_a_windows_token_command_keeps_its_backslashes() -> None:
    raw = r'"C:\Program Files\oama\oama.exe" access me@gmail.test'
    assert token_command_argv(raw, "CMD", posix=False) == [
        r"C:\Program Files\oama\oama.exe",
        "access",
        "me@gmail.test",
    ]
    assert token_command_argv(r"oama access 'me x'", "CMD", posix=True) == [
        "oama", "access", "me x"
    ]  # fmt: skip


def test_loopback_http_endpoints_are_accepted_and_xoauth2_is_read() -> None:
    assert convert("imap_oauth_token_url", " http://127.0.0.1:9/token ") == (
        "http://127.0.0.1:9/token"
    )
    assert convert("imap_auth", "XOAuth2") == "xoauth2"


def test_password_login_needs_no_token_source() -> None:
    assert token_source(Settings(imap_host="imap.example.test")) is None


def test_no_sign_in_names_the_command_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("automation.oauth_keyring.load_login", lambda p, u: (None, ""))
    settings = Settings(
        imap_auth="xoauth2", imap_host="outlook.office365.com", email="me@outlook.test"
    )
    with pytest.raises(ConfigError) as info:
        token_source(settings)
    assert str(info.value) == (
        "HTX_IMAP_AUTH=xoauth2 needs a sign-in for me@outlook.test: run `htx-keys mail login "
        "--provider microsoft` once, or set HTX_IMAP_OAUTH_TOKEN_COMMAND"
    )


def test_an_unknown_host_needs_a_provider() -> None:
    settings = Settings(imap_auth="xoauth2", imap_host="imap.example.test", email="a@b.test")
    with pytest.raises(ConfigError, match=r"^HTX_IMAP_OAUTH_PROVIDER is not set and the IMAP"):
        token_source(settings)


def test_a_refresh_token_in_the_environment_is_used_with_the_configured_client() -> None:
    settings = Settings(
        imap_auth="oauthbearer", imap_host="imap.gmail.com", email="me@gmail.test",
        imap_oauth_client_id="app.apps.googleusercontent.com", imap_oauth_client_secret="cs",
        imap_oauth_refresh_token="1//rt",
    )  # fmt: skip
    tokens = token_source(settings)
    assert isinstance(tokens, RefreshTokenSource)
    assert tokens.client.token_url == "https://oauth2.googleapis.com/token"
    assert tokens.client.scope == "https://mail.google.com/"
    assert tokens.fix == (
        "run `htx-keys mail login --provider google --show-refresh-token` and put the new "
        "refresh token in HTX_IMAP_OAUTH_REFRESH_TOKEN"
    )


def test_microsoft_endpoints_follow_the_tenant() -> None:
    settings = Settings(imap_oauth_client_id="id", imap_oauth_tenant="consumers")
    found = client_from_settings(settings, "microsoft")
    assert found.device_url == (
        "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode"
    )
    assert found.scope == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"


def test_a_missing_client_id_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^HTX_IMAP_OAUTH_CLIENT_ID is not set: register"):
        client_from_settings(Settings(), "google")


# -- signing in -------------------------------------------------------------------------------


def test_device_sign_in_waits_for_approval_and_slows_down_when_told(provider: Provider) -> None:
    provider.slow_down_once = True
    shown: list[DeviceCode] = []
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            provider.approve(shown[0].user_code, "alice")

    tokens = device_login(client(provider), shown.append, timeout=60, sleep=sleep)
    assert shown[0].verification_uri == f"{provider.url}/device"
    assert waits == [1.0, 6.0, 6.0]  # interval 1 s, then 5 s more after slow_down
    assert provider.refresh[tokens["refresh_token"]].user == "alice"


@pytest.mark.parametrize(
    ("outcome", "message"),
    [("deny", "The sign-in was declined in the browser"), ("wait", "Nobody approved the "
     "sign-in within 3 s; run the command again")],
)  # fmt: skip
def test_device_sign_in_that_is_declined_or_never_approved(
    provider: Provider, outcome: str, message: str
) -> None:
    shown: list[DeviceCode] = []
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.now += seconds
        if outcome == "deny":
            next(iter(provider.devices.values())).denied = True

    with pytest.raises(MailError) as info:
        device_login(client(provider), shown.append, timeout=3, sleep=sleep, clock=clock)
    assert str(info.value) == message


def follow(url: str) -> bool:
    """The browser: the provider signs the person in and sends it back to the tool."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status == 200


def test_loopback_sign_in_with_pkce(provider: Provider) -> None:
    provider.add_client("gid", "gsecret")
    provider.browser_user = "bob@gmail.test"
    google = OAuthClient(
        PROVIDERS["google"], "gid", "gsecret", provider.token_url, provider.auth_url, None,
        "https://mail.google.com/",
    )  # fmt: skip
    shown: list[str] = []
    tokens = loopback_login(google, shown.append, follow, timeout=10, login_hint="bob@gmail.test")
    asked = provider.counts.authorize[0]
    assert shown[0].startswith(f"{provider.auth_url}?")
    assert asked["redirect_uri"].startswith("http://127.0.0.1:")
    assert asked["code_challenge_method"] == "S256"
    assert (asked["access_type"], asked["prompt"], asked["login_hint"]) == (
        "offline", "consent", "bob@gmail.test"
    )  # fmt: skip
    assert provider.refresh[tokens["refresh_token"]].user == "bob@gmail.test"


def test_loopback_sign_in_declined(provider: Provider) -> None:
    provider.decline = True
    with pytest.raises(MailError, match=r"^The sign-in was declined in the browser$"):
        loopback_login(client(provider, "google"), lambda url: None, follow, timeout=10)


def test_an_account_takes_its_own_oauth_settings_and_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("automation.accounts._keyring_read", lambda name, settings: ({}, ""))
    monkeypatch.chdir(tmp_path)  # no stray ./.env
    config = tmp_path / "accounts.toml"
    config.write_text(
        '[accounts.main]\nemail = "me@outlook.test"\nimap_host = "outlook.office365.com"\n'
        'imap_auth = "xoauth2"\nimap_oauth_client_id = "cid"\n'
    )
    environ = {
        "HTX_IMAP_OAUTH_REFRESH_TOKEN": "rt-generic-is-ignored",
        "HTX_IMAP_OAUTH_REFRESH_TOKEN_MAIN": "rt-main",
    }
    settings = load_settings(environ=environ, account="main", config_file=config)
    assert (settings.imap_auth, settings.imap_oauth_client_id) == ("xoauth2", "cid")
    assert settings.imap_oauth_refresh_token == "rt-main"
    tokens = token_source(settings)
    assert isinstance(tokens, RefreshTokenSource)
    assert tokens.fix == (
        "run `htx-keys mail login --provider microsoft --account main --show-refresh-token` "
        "and put the new refresh token in HTX_IMAP_OAUTH_REFRESH_TOKEN_MAIN"
    )
