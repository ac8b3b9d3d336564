"""`htx-keys record --out DIR`: run the provisioning flow and write its documentation.

The same steps that `provision` runs make a step-by-step guide (Markdown and a self-contained
HTML page) with one masked, annotated picture per step, a video with a chapter card per step
and a scrubbed trace. By default the run goes to the built-in sandbox with a made-up account
and fictitious values (a note, read + trade, a documentation IP address), as hand-written
guides do; with --base-url it goes to that site with the usual settings, and makes a real key
there.
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from automation.config import Settings
from automation.runner import Reporter
from automation.session import NoSession, open_session_store
from automation.store import Store, open_store
from flows.htx.limits import KeyRequest, check_request
from htx_keys.account_cli import account_options
from htx_keys.options import (
    artifact_modes,
    artifact_options,
    ask_person,
    browser_options,
    command_settings,
    ip_option,
    output_options,
    permission_option,
    prompt_run_secrets,
    session_option,
    site_options,
    store_option,
)

# What a help-center guide would show: fictitious, and an address reserved for documentation
# (RFC 5737), so nothing in the pictures points at a real machine.
EXAMPLE_NOTE = "Trading bot"
EXAMPLE_PERMISSIONS = ("read", "trade")
EXAMPLE_IP = "203.0.113.7"
# What a run writes into DIR: removed first, so a guide never shows pictures of an older run.
OUTPUTS = ("guide.md", "guide.html", "video.webm", "chapters.json", "trace.zip")


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
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each page to answer.",
)
@artifact_options(trace="on", video="on", screenshot="on")
@store_option
@output_options
@session_option
@browser_options
@site_options
@account_options
def record(
    out_dir: Path,
    note: str,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    timeout: float,
    trace: str,
    video: str,
    screenshot: str,
    store_spec: str | None,
    fmt: str,
    quiet: bool,
    session_spec: str,
    headed: bool,
    browser_path: str | None,
    cdp_endpoint: str | None,
    ws_endpoint: str | None,
    base_url: str | None,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> None:
    """Record the key-creation flow as documentation: guide.md, guide.html, steps/*.png,
    video.webm (with chapters.json) and trace.zip in DIR.

    Without --base-url the run goes to the built-in HTX sandbox (started and stopped here)
    with a made-up account; the key it makes there is thrown away. With --base-url it logs in
    to that site with the usual settings and creates a real key, stored as `provision` does.
    Secrets are masked in the pictures, blurred in the video and scrubbed from the trace.
    """
    from automation.guide import build_guide, write_guide
    from flows.htx.provision import PROVISION
    from htx_keys.demo import demo_site
    from htx_keys.provisioning import RunOptions, prepare, provision

    request = check_request(note, permissions or EXAMPLE_PERMISSIONS, ips or (EXAMPLE_IP,))
    reporter = Reporter(quiet=quiet)
    modes = artifact_modes(trace, video, screenshot)
    options = RunOptions(
        headed=headed,
        timeout_ms=timeout * 1000,
        artifacts_dir=out_dir,
        artifacts=modes,
        verify=False,  # documentation: `htx-keys verify` checks a real key afterwards
        cdp_endpoint=cdp_endpoint,
        ws_endpoint=ws_endpoint,
        ask=ask_person,
    )
    started = time.monotonic()
    clear_outputs(out_dir)
    with ExitStack() as stack:
        if base_url is None:
            settings = stack.enter_context(demo_site(reporter, browser=browser_path))
            options.use_totp_state = False  # a seed made up for this run
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="htx-keys-rec-")))
            store: Store = open_store(f"json:{tmp / 'keys.json'}")  # thrown away
        else:
            settings, store = live_site(
                options, request, store_spec, session_spec, browser_path, base_url, api_url,
                env_file, account, config_file,
            )  # fmt: skip
        prep = prepare(settings, request, store, options)
        result = provision(prep, options, reporter)
    guide = build_guide(PROVISION, result.recording.shots.recorded, out_dir)
    markdown, page = write_guide(guide, out_dir)
    seconds = time.monotonic() - started
    reporter.info(f"recorded {len(guide.steps)} steps in {seconds:.1f} s")
    artifacts = result.recording.artifacts
    paths: dict[str, Any] = {
        "guide_md": str(markdown),
        "guide_html": str(page),
        "steps": [str(p) for p in result.recording.shots.images],
        "video": str(artifacts.video) if artifacts.video else None,
        "video_method": artifacts.video_method if artifacts.video else None,
        "chapters": str(artifacts.chapters_file) if artifacts.chapters_file else None,
        "trace": str(artifacts.trace) if artifacts.trace else None,
    }
    click.echo(render_paths(paths, fmt))


def live_site(
    options: Any,
    request: KeyRequest,
    store_spec: str | None,
    session_spec: str,
    browser_path: str | None,
    base_url: str,
    api_url: str | None,
    env_file: Path | None,
    account: str | None,
    config_file: Path | None,
) -> tuple[Settings, Store]:
    """Settings, saved session and store for a real site, as `provision` builds them."""
    settings = command_settings(
        base_url, api_url, env_file, account, config_file, store=store_spec, browser=browser_path
    )
    session = open_session_store(session_spec, settings.base_url, settings.email or "")
    settings = prompt_run_secrets(settings, session)
    options.session = None if isinstance(session, NoSession) else session
    return settings, open_store(settings.store)


def clear_outputs(out_dir: Path) -> None:
    """Remove what an earlier recording left in DIR; nothing else there is touched."""
    for name in OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    steps = out_dir / "steps"
    if steps.is_dir():
        for picture in steps.glob("*.png"):
            picture.unlink()


def render_paths(paths: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(paths, indent=2)
    steps = paths["steps"]
    lines = [
        f"guide         {paths['guide_md']}",
        f"guide (HTML)  {paths['guide_html']}",
    ]
    if steps:
        lines.append(f"pictures      {Path(steps[0]).parent}/ ({len(steps)} steps)")
    if paths["video"]:
        how = (
            f"chapters in {paths['chapters']}"
            if paths["chapters"]
            else "no chapters: recorded with record_video_dir, this Playwright has no "
            "page.screencast"
            if paths["video_method"] == "record_video_dir"
            else "no chapters"
        )
        lines.append(f"video         {paths['video']} ({how})")
    if paths["trace"]:
        lines.append(f"trace         {paths['trace']} (scrubbed; open with playwright show-trace)")
    return "\n".join(lines)
