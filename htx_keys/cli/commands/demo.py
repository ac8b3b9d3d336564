"""`htx-keys demo`: the whole job on the built-in replica, in one command."""

from __future__ import annotations

import click

from htx_keys.cli.browser_option import browser_options
from htx_keys.cli.options import (
    insecure_option,
    output_options,
    totp_period_option,
)


@click.command()
@output_options
@totp_period_option
@browser_options
@insecure_option
def demo(
    fmt: str,
    quiet: bool,
    totp_period: int,
    headed: bool,
    browser_path: str | None,
    browser_channel: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
    allow_insecure_transport: bool | None,
) -> None:
    """Run a whole provisioning against the built-in HTX replica, in one command.

    Starts the sandbox website and an embedded IMAP server (pymap, TLS) on free loopback
    ports, creates a key with a made-up demo account, stores it (the OS keyring, service
    htx-keys-demo, when one works; otherwise a 0600 JSON file whose path is printed), prints
    it and stops everything it started.
    """
    from htx_keys.app.demo import run_demo
    from htx_keys.app.output import KeyOutput

    browser = {
        "browser": browser_path,
        "browser_channel": browser_channel,
        "cdp_endpoint": cdp_endpoint,
        "ws_endpoint": ws_endpoint,
        "allow_insecure_transport": allow_insecure_transport,
    }
    made = run_demo(quiet=quiet, headed=headed, browser=browser, totp_period=totp_period)
    KeyOutput(fmt).report([made])
