"""`htx-keys doctor`: check what a provisioning run needs, creating and changing nothing
(htx_keys/app/doctor.py)."""

from __future__ import annotations

import click

from automation.errors import ExitWith
from htx_keys.app.web_options import WebOptions
from htx_keys.cli.console import echo
from htx_keys.cli.options import output_options, prompt_secrets, timeout_option, web_options


@click.command()
@output_options
@web_options(
    artifacts=None,
    output_dir=False,
    timeout=timeout_option(5.0, 0.5, "Seconds to wait for each element of the site."),
)
def doctor(fmt: str, quiet: bool, web: WebOptions) -> None:
    """Check settings, clock, mailbox, store and the site's pages; create nothing.

    Logs in (one Google Authenticator code; none with a saved session), checks each element
    the flow uses, opens the Security Authentication dialog and cancels it: no mail is sent,
    no key is made. Exits 0 when every check passes or is skipped, 13 when one fails.
    """
    from htx_keys.app.doctor import doctor_checks, exit_status, render_json, render_text

    checks = doctor_checks(web, quiet=quiet, ask_secrets=prompt_secrets)
    echo(render_json(checks) if fmt == "json" else render_text(checks))
    if exit_status(checks):
        raise ExitWith(exit_status(checks))
