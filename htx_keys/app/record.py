"""`htx-keys record --out DIR`: run the provisioning flow and write its documentation.

The same steps that `provision` runs make a step-by-step guide (Markdown and a self-contained
HTML page) with one masked, annotated picture per step, a video with a chapter card per step
and a scrubbed trace. By default the run goes to the built-in sandbox with a made-up account
and fictitious values (a note, read + trade, a documentation IP address), as hand-written
guides do; with --base-url it goes to that site with the usual settings, and makes a real key
there. What such a run writes shows a real account, so DIR is then private: the folders 0700,
the files 0600.
"""

from __future__ import annotations

import json
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from automation.compare import DEFAULT_THRESHOLD, differs, render_table
from automation.config import TOTP_PERIOD, Settings, browser_values
from automation.errors import ExitStatus, InputError
from automation.files import private_dir
from automation.guide import build_guide
from automation.runner import Reporter
from automation.session import NoSession, open_session_store
from automation.store import Store, open_store
from flows.htx.limits import check_request
from flows.htx.provision import PROVISION
from htx_keys.app.guide_values import EXAMPLE_IP, EXAMPLE_PERMISSIONS
from htx_keys.app.preflight import RunOptions, prepare
from htx_keys.app.provisioning import provision
from htx_keys.app.record_outputs import (
    EXTRA_OUTPUTS,
    check_compare_dir,
    check_tools,
    extras_paths,
    keep_old_pictures,
    write_outputs,
)
from htx_keys.app.replica import demo_site
from htx_keys.app.web_options import WebOptions
from htx_keys.app.web_run import Ask, SecretPrompt, run_secret_names

# What a run writes into DIR: removed first, so a guide never shows pictures of an older run.
OUTPUTS = (
    "guide.md",
    "guide.html",
    "video.webm",
    "chapters.json",
    "trace.zip",
    *EXTRA_OUTPUTS,
)
SCALES = (1.0, 1.5, 2.0, 3.0)
THEMES = ("light", "dark")


@dataclass(frozen=True)
class Look:
    """How the pictures look: device pixels per CSS pixel, the browser's colour scheme."""

    scale: float = 1.0
    theme: str | None = None  # None: the browser's default (light)


def check_look(scale: float, theme: str | None) -> Look:
    if scale not in SCALES:
        raise InputError(f"--scale {scale:g}: one of {', '.join(f'{s:g}' for s in SCALES)}")
    if theme is not None and theme not in THEMES:
        raise InputError(f"--theme {theme}: light or dark")
    return Look(scale, theme)


def record_guide(
    out_dir: Path,
    note: str,
    permissions: tuple[str, ...],
    ips: tuple[str, ...],
    web: WebOptions,
    *,
    quiet: bool,
    ask: Ask | None,
    ask_secrets: SecretPrompt,
    totp_period: int = TOTP_PERIOD,
    look: Look = Look(),
    compare: Path | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Run the flow with pictures, video and trace on; write the guide and what is made of
    it (captions, MP4, GIF, PDF); compare the pictures with `compare`'s; the paths written."""
    request = check_request(note, permissions or EXAMPLE_PERMISSIONS, ips or (EXAMPLE_IP,))
    old_steps = check_compare_dir(compare) if compare is not None else None
    if not 0 < threshold < 1:
        raise InputError(f"--threshold {threshold:g}: a fraction of the picture, above 0, below 1")
    check_tools(video=web.video != "off")
    reporter = Reporter(quiet=quiet)
    options = RunOptions(
        headed=web.headed,
        timeout_ms=web.timeout * 1000,
        artifacts_dir=out_dir,
        artifacts=web.artifacts,
        chapter_ms=web.chapter_seconds * 1000,
        verify=False,  # documentation: `htx-keys verify` checks a real key afterwards
        ask=ask,
        scale=look.scale,
        color_scheme=look.theme,
    )
    started = time.monotonic()
    # The settings are checked before anything starts or any old output is removed.
    on_replica = web.base_url is None
    if on_replica:
        reach = browser_values(web.browser_flags(), web.env_file)
    else:
        settings, store = live_site(options, web, ask_secrets)
    with ExitStack() as stack:
        if old_steps is not None:
            tmp_old = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="htx-keys-")))
            old_steps = keep_old_pictures(old_steps, out_dir, tmp_old)
        clear_outputs(out_dir)
        if on_replica:
            settings = stack.enter_context(
                demo_site(reporter, browser=reach, totp_period=totp_period)
            )
            options.use_totp_state = False  # a seed made up for this run
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="htx-keys-rec-")))
            store = open_store(f"json:{tmp / 'keys.json'}")  # thrown away
        prep = prepare(settings, request, store, options)
        if options.private_artifacts:
            make_private(out_dir, reporter)
        result = provision(prep, options, reporter)
        guide = build_guide(PROVISION, result.recording.shots.recorded, out_dir)
        artifacts = result.recording.artifacts
        pictures = result.recording.shots.images
        extras = write_outputs(
            out_dir, guide, artifacts.chapters_file, artifacts.video, pictures,
            prep.browser, reporter, private=options.private_artifacts,
            compare=old_steps, threshold=threshold,
        )  # fmt: skip
    seconds = time.monotonic() - started
    reporter.info(f"recorded {len(guide.steps)} steps in {seconds:.1f} s")
    paths: dict[str, Any] = {
        "guide_md": str(extras.markdown),
        "guide_html": str(extras.page),
        "steps": [str(p) for p in pictures],
        "video": str(artifacts.video) if artifacts.video else None,
        "video_method": artifacts.video_method if artifacts.video else None,
        "chapters": str(artifacts.chapters_file) if artifacts.chapters_file else None,
        "trace": str(artifacts.trace) if artifacts.trace else None,
        **extras_paths(extras),
        "scale": look.scale,
        "theme": look.theme or "light",
    }
    if compare is not None:
        paths["compare"] = {
            "with": str(compare),
            "threshold": threshold,
            "changed": differs(extras.changes),
            "steps": [asdict(c) for c in extras.changes],
            "table": render_table(extras.changes, threshold),
        }
    return paths


def compare_status(paths: dict[str, Any]) -> int:
    """PICTURES_CHANGED when --compare found a step that differs, else 0."""
    found = paths.get("compare")
    return int(ExitStatus.PICTURES_CHANGED) if found and found["changed"] else 0


def live_site(
    options: RunOptions, web: WebOptions, ask_secrets: SecretPrompt
) -> tuple[Settings, Store]:
    """Settings, saved session and store for a real site, as `provision` builds them."""
    settings = web.settings()
    session = open_session_store(settings.session, settings.base_url, settings.email or "")
    settings = ask_secrets(settings, run_secret_names(session, settings))
    options.session = None if isinstance(session, NoSession) else session
    # Pictures, video and trace of a real account: its screens, its key list, its login.
    options.private_artifacts = True
    return settings, open_store(settings.store, settings.state_dir)


def make_private(out_dir: Path, reporter: Reporter) -> None:
    """DIR only for this user (0700), its files 0600: they show a real account."""
    if private_dir(out_dir):
        reporter.info(f"{out_dir} made private (0700): it holds a real account's recording")


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
    if paths["captions"]:
        lines.append(f"captions      {paths['captions']} (WebVTT, one cue per step)")
    if paths["mp4"]:
        lines.append(f"video (MP4)   {paths['mp4']} (H.264, {paths['mp4_encoder']})")
    if paths["gif"]:
        lines.append(f"animation     {paths['gif']} (one frame per step)")
    if paths["pdf"]:
        lines.append(f"guide (PDF)   {paths['pdf']} ({paths['pdf_pages']} pages)")
    if "compare" in paths:
        lines += ["", f"compared with {paths['compare']['with']}:", paths["compare"]["table"]]
    return "\n".join(lines)
