"""`htx-keys sandbox`: serve the HTX replica, with an embedded IMAP server unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import click

from htx_keys.cli.options import totp_period_option
from htx_keys.cli.params import Seconds


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8400,
    show_default=True,
    help="Port for the website (0: any free port).",
)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML file of accounts (default: one demo account).",
)
@click.option(
    "--mail-deliver",
    envvar="HTX_SANDBOX_MAIL_DELIVER",
    show_envvar=True,
    metavar="URL",
    help="Where verification mail goes: smtp://, smtp+starttls://, lmtp://, "
    "imap+starttls:// or imaps://user:pass@host:port (default: an embedded IMAP "
    "server). A URL with a password belongs in the environment variable, not in argv.",
)
@click.option(
    "--mail-ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CA file to verify the mail server's certificate.",
)
@click.option(
    "--mail-from",
    default="HTX <noreply@htx.com>",
    show_default=True,
    help="Sender of the verification mail.",
)
@click.option(
    "--write-env",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the settings `provision` needs to this .env file (mode 0600).",
)
@click.option(
    "--captcha",
    type=click.Choice(["off", "always", "new-session"]),
    default="off",
    show_default=True,
    help="Put a slider captcha before login: always, or for a browser new to the account.",
)
@click.option(
    "--new-device-check",
    is_flag=True,
    help="Ask a browser new to the account for an emailed code after the GA step.",
)
@click.option(
    "--session-ttl",
    type=Seconds(min=1),
    default=86400.0,
    show_default=True,
    help="Seconds a login session lasts.",
)
@click.option(
    "--latency-ms",
    type=click.IntRange(0, 10_000),
    default=200,
    show_default=True,
    help="Delay of the page's own API calls, as on the live site.",
)
@click.option(
    "--markup",
    type=click.Choice(["plain", "obscure"]),
    default="plain",
    show_default=True,
    help="obscure: inputs with placeholders and no tied labels, div buttons, hashed class "
    "names, as a framework's build might serve the live site.",
)
@totp_period_option
def sandbox(
    host: str,
    port: int,
    accounts_file: Path | None,
    mail_deliver: str | None,
    mail_ca_file: Path | None,
    mail_from: str,
    write_env: Path | None,
    captcha: str,
    new_device_check: bool,
    session_ttl: float,
    latency_ms: int,
    markup: str,
    totp_period: int,
) -> None:
    """Serve the local HTX replica (website) until Ctrl-C.

    With --write-env, a second terminal can run
    `htx-keys provision --env-file PATH --note test` against it.
    """
    from htx_keys.app.replica import serve_sandbox

    serve_sandbox(
        host=host,
        port=port,
        accounts_file=accounts_file,
        mail_deliver=mail_deliver,
        mail_ca_file=mail_ca_file,
        mail_from=mail_from,
        write_env=write_env,
        latency_ms=latency_ms,
        markup=markup,
        guards={
            "captcha": captcha,
            "new_device_check": new_device_check,
            "session_ttl_s": session_ttl,
            "totp_step_s": totp_period,
        },
    )
