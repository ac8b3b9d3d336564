"""How the inbox logs in (automation/mail_auth.py) with a fake IMAP client, and what the
settings checks and doctor's rows say of an OAuth2 login."""

from __future__ import annotations

import pytest
from imapclient.exceptions import LoginError

from automation.config import Settings
from automation.errors import ConfigError, MailError
from automation.mail_auth import authenticate, login_failure
from automation.mail_settings import MailSettings, check_settings
from htx_keys.app.checks import check_settings_rows

SEED = "JBSWY3DPEHPK3PXPJBSWY3DP"


class Tokens:
    """A token source: hands out t1, t2, ...; `cached` says whether renew() helps."""

    description = "the access token from the test"
    fix = "do the fix"

    def __init__(self, cached: bool = True) -> None:
        self.handed = 0
        self.cached = cached

    def access_token(self) -> str:
        self.handed += 1
        return f"t{self.handed}"

    def renew(self) -> bool:
        return self.cached


class Client:
    def __init__(self, accept: set[str], caps: tuple[bytes, ...] = (b"AUTH=XOAUTH2",)) -> None:
        self.accept = accept
        self.caps = caps
        self.tried: list[tuple[str, str, str]] = []

    def capabilities(self) -> tuple[bytes, ...]:
        return self.caps

    def has_capability(self, name: str) -> bool:
        return name.encode() in self.caps

    def oauth2_login(self, user: str, token: str) -> None:
        self._try("XOAUTH2", user, token)

    def oauthbearer_login(self, user: str, token: str) -> None:
        self._try("OAUTHBEARER", user, token)

    def _try(self, how: str, user: str, token: str) -> None:
        self.tried.append((how, user, token))
        if token not in self.accept:
            raise LoginError("[AUTHENTICATIONFAILED] Authentication failed.")


def settings(tokens: Tokens, auth: str = "xoauth2") -> MailSettings:
    return MailSettings(
        host="imap.example.test", port=None, user="me@example.test", password="",
        auth=auth, token_source=tokens,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_refused_token_from_memory_is_replaced_once() -> None:
    client = Client(accept={"t2"})
    authenticate(client, settings(Tokens()), "imap.example.test:993")
    assert client.tried == [
        ("XOAUTH2", "me@example.test", "t1"),
        ("XOAUTH2", "me@example.test", "t2"),
    ]


def test_a_second_refusal_or_a_token_that_cannot_change_is_final() -> None:
    for tokens in (Tokens(), Tokens(cached=False)):
        client = Client(accept=set(), caps=(b"AUTH=OAUTHBEARER",))
        with pytest.raises(LoginError):
            authenticate(client, settings(tokens, "oauthbearer"), "x:993")
        assert len(client.tried) == (2 if tokens.cached else 1)


def test_a_server_without_the_mechanism_says_what_it_offers() -> None:
    client = Client(accept={"t1"}, caps=(b"AUTH=PLAIN", b"AUTH=OAUTHBEARER"))
    with pytest.raises(MailError) as info:
        authenticate(client, settings(Tokens()), "imap.example.test:993")
    assert str(info.value) == (
        "IMAP server imap.example.test:993 does not offer XOAUTH2 (it offers OAUTHBEARER, PLAIN)"
    )
    assert info.value.hint == "try HTX_IMAP_AUTH=oauthbearer"


def test_a_refused_token_message_is_one_line_with_the_fix() -> None:
    message, hint = login_failure(settings(Tokens()), "imap.example.test:993", "[AUTH] no")
    assert message == (
        "IMAP server imap.example.test:993 refused the access token from the test for "
        "me@example.test (XOAUTH2: [AUTH] no): it may have expired or been revoked; do the fix"
    )
    assert hint is None


def test_oauth_needs_a_token_source_but_no_password() -> None:
    check_settings(settings(Tokens()))
    with pytest.raises(ConfigError, match=r"^IMAP auth xoauth2 needs a source of OAuth2"):
        check_settings(settings(None))  # type: ignore[arg-type]


def test_doctor_rows_for_an_oauth_login_skip_the_password(tmp_path: object) -> None:
    given = Settings(
        email="me@example.test", password="pw", totp_secret=SEED, imap_host="imap.example.test",
        imap_auth="oauthbearer", imap_oauth_token_command="true",
    )  # fmt: skip
    rows, mail = check_settings_rows(given)
    assert [(r.check, r.result) for r in rows] == [
        ("settings", "pass"), ("TOTP seed", "pass"), ("mail settings", "pass"),
    ]  # fmt: skip
    assert rows[2].detail == "me@example.test at imap.example.test:993 (tls, oauthbearer)"
    assert mail is not None and mail.auth == "oauthbearer"


def test_doctor_names_the_sign_in_that_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("automation.oauth_keyring.load_login", lambda p, u: (None, ""))
    given = Settings(
        email="me@gmail.test", password="pw", totp_secret=SEED, imap_host="imap.gmail.com",
        imap_auth="xoauth2",
    )  # fmt: skip
    rows, mail = check_settings_rows(given)
    assert rows[2].result == "FAIL" and mail is None
    assert rows[2].detail == (
        "HTX_IMAP_AUTH=xoauth2 needs a sign-in for me@gmail.test: run `htx-keys mail login "
        "--provider google` once, or set HTX_IMAP_OAUTH_TOKEN_COMMAND"
    )
