"""`htx-keys verify`: check stored keys with signed REST calls."""

from __future__ import annotations

from pathlib import Path

import click

from htx_keys.cli.console import echo
from htx_keys.cli.options import account_options, output_options, site_options, store_option


@click.command()
@click.argument("access_key", required=False)
@store_option
@output_options
@site_options
@account_options
def verify(
    access_key: str | None,
    store_spec: str | None,
    fmt: str,
    quiet: bool,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    allow_insecure_transport: bool | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Check stored keys with signed REST calls: they work and read back as stored.

    Checks ACCESS_KEY, or every key in the store. A key bound to IP addresses other than this
    machine's cannot be checked from here and is reported as skipped. Exits 10 when any key
    fails.
    """
    from automation.errors import VerifyError
    from automation.runner import Reporter
    from automation.store import open_store
    from htx_keys.app.output import verify_report
    from htx_keys.app.verify import verify_stored
    from htx_keys.app.web_options import command_settings

    settings = command_settings(
        base_url, api_url, env_file, account, config_file,
        store=store_spec, allow_insecure_transport=allow_insecure_transport,
    )  # fmt: skip
    store = open_store(settings.store, settings.state_dir)
    rows, failed = verify_stored(settings, store, access_key, Reporter(quiet=quiet))
    echo(verify_report(rows, fmt))
    if failed:
        raise VerifyError(f"{len(failed)} of {len(rows)} keys failed: {', '.join(failed)}")
