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
@click.option(
    "--scale",
    type=click.Choice(["1", "1.5", "2", "3"]),
    default="1",
    show_default=True,
    help="Device pixels per CSS pixel of the pictures: 2 for high-DPI (2560x1600) pictures.",
)
@click.option(
    "--theme",
    type=click.Choice(["light", "dark"]),
    default=None,
    help="Ask the site for this colour theme (the browser's prefers-color-scheme) "
    "[default: the browser's, light].",
)
@click.option(
    "--compare",
    "compare_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="A previous guide (DIR or DIR/steps) to compare the new pictures with: lists the "
    "steps whose picture changed and exits 18 when one did. May be --out's own folder.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 100, min_open=True, max_open=True),
    default=0.5,
    show_default=True,
    metavar="PERCENT",
    help="With --compare: how much of a picture must change for its step to count.",
)
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
    scale: str,
    theme: str | None,
    compare_dir: Path | None,
    threshold: float,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    fmt: str,
    quiet: bool,
    totp_period: int,
    web: WebOptions,
) -> None:
    """Record the key-creation flow as documentation: guide.md, guide.html, guide.pdf,
    guide.gif, steps/*.png, video.webm and video.mp4 (with chapters.json and video.vtt
    captions) and trace.zip in DIR.

    Without --base-url the run goes to the built-in HTX sandbox (started and stopped here)
    with a made-up account; the key it makes there is thrown away. With --base-url it logs in
    to that site with the usual settings and creates a real key, stored as `provision` does;
    DIR then shows a real account and is made private (folders 0700, files 0600). Secrets
    are masked in the pictures, blurred in the video and scrubbed from the trace.
    """
    from automation.errors import ExitWith
    from htx_keys.app.record import check_look, compare_status, record_guide, render_paths

    look = check_look(float(scale), theme)
    paths = record_guide(
        out_dir, note, permissions, ips, web,
        quiet=quiet, ask=ask_person, ask_secrets=prompt_secrets, totp_period=totp_period,
        look=look, compare=compare_dir, threshold=threshold / 100,
    )  # fmt: skip
    echo(render_paths(paths, fmt))
    status = compare_status(paths)
    if status:
        raise ExitWith(status)
