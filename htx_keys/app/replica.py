"""The built-in HTX replica, started from the tool: the demo site (`demo`, `record` without
--base-url) and `htx-keys sandbox`'s server. The only part of htx_keys that reaches sandbox/."""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from automation.config import TOTP_PERIOD, Settings, default_state_dir
from automation.errors import InputError
from automation.files import atomic_write
from automation.redaction import REDACTOR
from automation.runner import Reporter
from sandbox.accounts import Account, demo_account, load_accounts
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.mailer import MailTarget
from sandbox.mailserver import EmbeddedImap
from sandbox.server import SandboxServer

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


def env_lines(
    base_url: str, account: Account, imap: EmbeddedImap | None, totp_period: int = TOTP_PERIOD
) -> list[str]:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    values = {
        "HTX_BASE_URL": base_url,
        "HTX_API_URL": base_url,
        "HTX_EMAIL": account.email,
        "HTX_PASSWORD": account.password,
        "HTX_TOTP_SECRET": account.totp_secret,
        "HTX_MAIL_FROM": "*@htx.com",
    }
    if totp_period != TOTP_PERIOD:
        values["HTX_TOTP_PERIOD"] = str(totp_period)
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
    markup: str = "plain",
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
            markup=markup,
            **(guards or {}),
        )
        server = SandboxServer(config, host=host, port=port)
        server.start()
        stack.callback(server.stop)
        say(f"HTX sandbox at {server.base_url} (Ctrl-C to stop)")
        say(
            f"  faults: GET or POST (JSON) {server.base_url}/-/sandbox/faults from this machine "
            '(sandbox/README.md, "Faults")'
        )
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
            lines = env_lines(server.base_url, accounts[0], imap, config.totp_step_s)
            write_env_file(write_env, lines)
            say(f"  settings written to {write_env}; in another terminal run:")
            say(f"    htx-keys provision --env-file {write_env} --note test")
        else:
            say("  use --write-env PATH to get the settings `htx-keys provision` needs")
        server.serve_forever()


@contextmanager
def demo_site(
    reporter: Reporter,
    *,
    browser: Mapping[str, Any] | None = None,
    totp_period: int = TOTP_PERIOD,
) -> Iterator[Settings]:
    """The sandbox website and an embedded IMAP server on free loopback ports, with a made-up
    account; yields the settings that reach them, and stops both on the way out. The site's
    GA codes step every `totp_period` seconds (HTX's 30, or shorter to wait less). `browser`:
    how to reach a browser (automation.config.browser_values), checked before anything starts."""
    account = demo_account()
    REDACTOR.add(account.password, label="demo password")
    REDACTOR.add(account.totp_secret, label="demo TOTP seed")
    with tempfile.TemporaryDirectory(prefix="htx-keys-demo-") as tmp:
        imap = EmbeddedImap(Path(tmp), user="demo")
        reporter.info("starting the embedded IMAP server (pymap, STARTTLS)")
        imap.start()
        try:
            REDACTOR.add(imap.password, label="demo IMAP password")
            target = MailTarget.parse(imap.delivery_url(), ca_file=imap.ca_file)
            config = SandboxConfig(accounts=[account], mail_target=target, totp_step_s=totp_period)
            with SandboxServer(config) as server:
                reporter.info(f"HTX sandbox at {server.base_url}, mail on {imap.host}:{imap.port}")
                yield Settings(
                    base_url=server.base_url,
                    api_url=server.base_url,  # the replica serves its REST API on one origin
                    email=account.email,
                    password=account.password,
                    totp_secret=account.totp_secret,
                    imap_host=imap.host,
                    imap_port=imap.port,
                    imap_user=imap.user,
                    imap_password=imap.password,
                    imap_security="starttls",
                    imap_ca_file=imap.ca_file,
                    mail_from="*@htx.com",
                    state_dir=default_state_dir(),
                    totp_period=totp_period,
                    **(browser or {}),
                )
        finally:
            imap.stop()
