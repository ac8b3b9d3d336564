"""`htx-keys record --out DIR`: run the provisioning flow and write its documentation.

The same steps that `provision` runs make a step-by-step guide (Markdown and a self-contained
HTML page) with one masked, annotated picture per step, a video with a chapter card per step
and a scrubbed trace. By default the run goes to the built-in sandbox with a made-up account
and fictitious values (a note, read + trade, a documentation IP address), as hand-written
guides do; with --base-url it goes to that site with the usual settings, and makes a real key
there.
"""

from __future__ import annotations

from pathlib import Path

import click

from htx_keys.app.guide_values import EXAMPLE_IP, EXAMPLE_NOTE
from htx_keys.app.web_options import WebOptions
from htx_keys.cli.console import echo
from htx_keys.cli.options import (
    ask_person,
    ip_option,
    output_options,
    permission_option,
    prompt_secrets,
    totp_period_option,
    web_options,
)


@click.command()
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the guide, pictures, video and trace go.",
)
@click.option("--note", default=EXAMPLE_NOTE, show_default=True, help="The key's note.")
@permission_option(
    help="Repeatable or comma separated [default: read, trade].", metavar="read|trade"
)
@ip_option(f"IP address to link; repeatable [default: {EXAMPLE_IP}].")
@output_options
@totp_period_option
@web_options(artifacts=("on", "on", "on"), output_dir=False)
def record(
    out_dir: Path,
    note: str,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    fmt: str,
    quiet: bool,
    totp_period: int,
    web: WebOptions,
) -> None:
    """Record the key-creation flow as documentation: guide.md, guide.html, steps/*.png,
    video.webm (with chapters.json) and trace.zip in DIR.

    Without --base-url the run goes to the built-in HTX sandbox (started and stopped here)
    with a made-up account; the key it makes there is thrown away. With --base-url it logs in
    to that site with the usual settings and creates a real key, stored as `provision` does;
    DIR then shows a real account and is made private (folders 0700, files 0600). Secrets
    are masked in the pictures, blurred in the video and scrubbed from the trace.
    """
    from htx_keys.app.record import record_guide, render_paths

    paths = record_guide(
        out_dir, note, permissions, ips, web,
        quiet=quiet, ask=ask_person, ask_secrets=prompt_secrets, totp_period=totp_period,
    )  # fmt: skip
    echo(render_paths(paths, fmt))
