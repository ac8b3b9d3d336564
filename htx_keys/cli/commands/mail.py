"""`htx-keys mail login` and `mail logout`: the mailbox's OAuth2 sign-in
(htx_keys/app/mail_login.py)."""

from __future__ import annotations

from pathlib import Path

import click

from htx_keys.cli.console import echo, echo_err, echo_secret
from htx_keys.cli.options import account_options

PROVIDER_HELP = (
    "google (a browser on this machine signs in) or microsoft (a code to type in any "
    "browser) [env HTX_IMAP_OAUTH_PROVIDER; default: told by HTX_IMAP_HOST]."
)


def _env_file_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--env-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read settings from this .env file instead of ./.env.",
    )(func)


@click.group("mail")
def mail() -> None:
    """The mailbox's OAuth2 sign-in, for HTX_IMAP_AUTH=xoauth2 or oauthbearer.

    Microsoft (Outlook.com, Microsoft 365) takes no password over IMAP any more, and Google
    Workspace admins can forbid app passwords: there the tool logs in with OAuth2 access
    tokens. `mail login` signs the mailbox in once and keeps the refresh token in the OS
    keyring (service htx-keys-mail); every run then gets fresh access tokens from it.
    Or set HTX_IMAP_OAUTH_TOKEN_COMMAND to a command that prints an access token.
    """


@mail.command("login")
@click.option(
    "--provider",
    type=click.Choice(["google", "microsoft"]),
    help=PROVIDER_HELP,
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=10),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the sign-in in the browser.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Do not open a browser (Google): only print the address to open on this machine.",
)
@click.option(
    "--show-refresh-token",
    is_flag=True,
    help="Print the refresh token on stdout instead of keeping it in the OS keyring (for "
    "HTX_IMAP_OAUTH_REFRESH_TOKEN in CI, where there is no keyring). It is a secret.",
)
@_env_file_option
@account_options
def login(
    provider: str | None,
    timeout: float,
    no_browser: bool,
    show_refresh_token: bool,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Sign the mailbox in with Google or Microsoft once, and keep the refresh token.

    Needs the client id of an app you registered with the provider
    (HTX_IMAP_OAUTH_CLIENT_ID; for Google also HTX_IMAP_OAUTH_CLIENT_SECRET, asked for on a
    terminal) and the mailbox (HTX_IMAP_USER, else HTX_EMAIL). Microsoft: open the address
    shown, in any browser, and type the code. Google: sign in in the browser that opens on
    this machine; it comes back to the tool on 127.0.0.1. Then the IMAP login is checked
    when HTX_IMAP_HOST is set. See README "Mail with OAuth2" for registering the app.
    """
    import os
    import webbrowser

    from htx_keys.app.mail_login import chosen_provider, mail_login
    from htx_keys.app.preflight import has_display
    from htx_keys.app.web_options import command_settings
    from htx_keys.cli.options import prompt_missing_secrets

    settings = command_settings(None, None, env_file, account, config_file)
    if chosen_provider(settings, provider) == "google":
        settings = prompt_missing_secrets(settings, ("imap_oauth_client_secret",))
    done = mail_login(
        settings,
        provider=provider,
        timeout=timeout,
        tell=echo_err,
        # Without a display, webbrowser would start a text browser in this terminal, where
        # Google's sign-in cannot work: then the address is only printed ($BROWSER wins).
        open_browser=webbrowser.open
        if not no_browser and (os.environ.get("BROWSER") or has_display())
        else (lambda url: False),
        keep=not show_refresh_token,
    )
    echo(done.summary())
    if show_refresh_token:
        echo_secret(done.refresh_token)


@mail.command("logout")
@click.option("--provider", type=click.Choice(["google", "microsoft"]), help=PROVIDER_HELP)
@_env_file_option
@account_options
def logout(
    provider: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Forget the mailbox's sign-in kept by `mail login` (the OS keyring entry)."""
    from htx_keys.app.mail_login import mail_logout
    from htx_keys.app.web_options import command_settings

    settings = command_settings(None, None, env_file, account, config_file)
    echo(mail_logout(settings, provider))
