"""Logging in to the mailbox: with the password, or with an OAuth2 access token (XOAUTH2, as
Gmail and Microsoft 365 take it, or OAUTHBEARER, RFC 7628) through imapclient's own
`oauth2_login` / `oauthbearer_login`.

A token the server refuses is asked for once more when the source can bring a different one
(a cached access token that the provider ended early); a second refusal is the person's to
fix, and the message says how.
"""

from __future__ import annotations

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from automation.errors import MailError
from automation.mail_settings import MailSettings

MECHANISMS = {"xoauth2": "XOAUTH2", "oauthbearer": "OAUTHBEARER"}
PASSWORD_HINT = (
    "Check the IMAP user and password; Gmail needs an app password (or OAuth2: "
    "HTX_IMAP_AUTH=xoauth2), Microsoft mailboxes take only OAuth2"
)


def authenticate(client: IMAPClient, s: MailSettings, where: str) -> None:
    """Log in the way the settings say; LoginError when the server refuses the credentials."""
    if s.auth == "password":
        client.login(s.user, s.password)
        return
    mechanism = MECHANISMS[s.auth]
    if not client.has_capability(f"AUTH={mechanism}"):
        offered = sorted(
            cap.decode("ascii", "replace").removeprefix("AUTH=")
            for cap in client.capabilities()
            if cap.startswith(b"AUTH=")
        )
        other = next((a for a, m in MECHANISMS.items() if m in offered), None)
        raise MailError(
            f"IMAP server {where} does not offer {mechanism} (it offers "
            f"{', '.join(offered) or 'no SASL mechanism'})",
            hint=f"try HTX_IMAP_AUTH={other}" if other else None,
        )
    source = s.token_source
    assert source is not None, "check_settings() requires a token source"
    retried = False
    while True:
        token = source.access_token()
        try:
            if s.auth == "xoauth2":
                client.oauth2_login(s.user, token)
            else:
                client.oauthbearer_login(s.user, token)
            return
        except LoginError:
            if retried or not source.renew():
                raise
            retried = True


def login_failure(s: MailSettings, where: str, said: str) -> tuple[str, str | None]:
    """The one-line message (and hint) for a login the server refused."""
    if s.auth == "password" or s.token_source is None:
        return f"IMAP login failed for {s.user} at {where}: {said}", PASSWORD_HINT
    source = s.token_source
    return (
        f"IMAP server {where} refused {source.description} for {s.user} "
        f"({MECHANISMS[s.auth]}: {said}): it may have expired or been revoked; {source.fix}",
        None,
    )
