"""`htx-keys sandbox`: serve the HTX replica, with an embedded IMAP server unless told otherwise."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from automation.errors import InputError
from automation.files import atomic_write
from automation.redaction import REDACTOR
from sandbox.accounts import Account, demo_account, load_accounts
from sandbox.faults import Faults
from sandbox.mailer import MailTarget
from sandbox.mailserver import EmbeddedImap
from sandbox.server import SandboxConfig, SandboxServer

ENV_HEADER = "# Written by htx-keys sandbox"


def say(text: str) -> None:
    sys.stderr.write(REDACTOR.scrub(text) + "\n")
    sys.stderr.flush()


def load_or_demo(accounts_file: Path | None) -> list[Account]:
    if accounts_file is None:
        accounts = [demo_account()]
    else:
        try:
            accounts = load_accounts(accounts_file)
        except (OSError, ValueError) as exc:
            raise InputError(f"--accounts {accounts_file}: {exc}") from None
    for account in accounts:
        REDACTOR.add(account.password, label="sandbox password")
        REDACTOR.add(account.totp_secret, label="sandbox TOTP seed")
    return accounts


def env_value(value: str) -> str:
    """Quoted so that no .env reader expands or cuts it ("$", "#", spaces)."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def env_lines(base_url: str, account: Account, imap: EmbeddedImap | None) -> list[str]:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    values = {
        "HTX_BASE_URL": base_url,
        "HTX_API_URL": base_url,
        "HTX_EMAIL": account.email,
        "HTX_PASSWORD": account.password,
        "HTX_TOTP_SECRET": account.totp_secret,
        "HTX_MAIL_FROM": "*@htx.com",
    }
    if imap is not None:
        values.update(
            {
                "HTX_IMAP_HOST": imap.host,
                "HTX_IMAP_PORT": str(imap.port),
                "HTX_IMAP_USER": imap.user,
                "HTX_IMAP_PASSWORD": imap.password,
                "HTX_IMAP_SECURITY": "starttls",
                "HTX_IMAP_CA_FILE": str(imap.ca_file),
            }
        )
    header = f"{ENV_HEADER} at {stamp}: settings for the local HTX replica; not for the live site."
    return [header] + [f"{key}={env_value(value)}" for key, value in values.items()]


def write_env_file(path: Path, lines: list[str]) -> None:
    """0600 from the first byte; never clobbers a .env this command did not write."""
    if path.exists():
        first = path.read_text(errors="replace").splitlines()[:1]
        if not first or not first[0].startswith(ENV_HEADER):
            raise InputError(
                f"--write-env {path}: the file exists and was not written by "
                "htx-keys sandbox; choose another path"
            )
    atomic_write(path, ("\n".join(lines) + "\n").encode())


def serve_sandbox(
    *,
    host: str,
    port: int,
    accounts_file: Path | None,
    mail_deliver: str | None,
    mail_ca_file: Path | None,
    mail_from: str,
    write_env: Path | None,
    latency_ms: int,
    guards: dict[str, Any] | None = None,
) -> None:
    accounts = load_or_demo(accounts_file)
    with ExitStack() as stack:
        imap: EmbeddedImap | None = None
        if mail_deliver:
            try:
                target = MailTarget.parse(mail_deliver, ca_file=mail_ca_file)
            except ValueError as exc:
                raise InputError(f"--mail-deliver: {exc}") from None
        else:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="htx-sandbox-"))
            imap = EmbeddedImap(Path(workdir), user="demo")
            imap.start()
            stack.callback(imap.stop)
            REDACTOR.add(imap.password, label="sandbox IMAP password")
            target = MailTarget.parse(imap.delivery_url(), ca_file=imap.ca_file)
        config = SandboxConfig(
            accounts=accounts,
            mail_target=target,
            mail_from=mail_from,
            faults=Faults(latency_ms=latency_ms),
            **(guards or {}),
        )
        server = SandboxServer(config, host=host, port=port)
        server.start()
        stack.callback(server.stop)
        say(f"HTX sandbox at {server.base_url} (Ctrl-C to stop)")
        for account in accounts:
            say(f"  account {account.email} (uid {account.uid}), mail to {account.mailbox}")
        if imap is not None:
            say(
                f"  mail: embedded IMAP server {imap.host}:{imap.port} (STARTTLS, CA file "
                f"{imap.ca_file}), user {imap.user}"
            )
        else:
            say(f"  mail: delivered to {target.display}")
        if write_env:
            write_env_file(write_env, env_lines(server.base_url, accounts[0], imap))
            say(f"  settings written to {write_env}; in another terminal run:")
            say(f"    htx-keys provision --env-file {write_env} --note test")
        else:
            say("  use --write-env PATH to get the settings `htx-keys provision` needs")
        server.serve_forever()


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
    type=click.FloatRange(min=1),
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
) -> None:
    """Serve the local HTX replica (website) until Ctrl-C.

    With --write-env, a second terminal can run
    `htx-keys provision --env-file PATH --note test` against it.
    """
    serve_sandbox(
        host=host,
        port=port,
        accounts_file=accounts_file,
        mail_deliver=mail_deliver,
        mail_ca_file=mail_ca_file,
        mail_from=mail_from,
        write_env=write_env,
        latency_ms=latency_ms,
        guards={
            "captcha": captcha,
            "new_device_check": new_device_check,
            "session_ttl_s": session_ttl,
        },
    )
