"""What `htx-keys record` makes of a recording once the run is over: captions (video.vtt), an
H.264 copy of the video (video.mp4), an animated GIF of the step pictures (guide.gif), the
guide printed to PDF (guide.pdf), and the comparison with a previous guide (`--compare`).

Everything here is made from the recorder's own files: pictures already masked, a video
already blurred, texts from the step definitions. Nothing is recorded again, so nothing new can
show a secret; the leak check of the tests reads these files too (OCR of GIF frames, MP4
frames, PDF pages). A real account's recording (private) keeps them 0600.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.browser import BrowserChoice, BrowserOptions
from automation.captions import cues, render_vtt
from automation.compare import StepChange, compare_steps
from automation.errors import InputError
from automation.files import atomic_write
from automation.guide import Guide, Player, render_html, write_guide
from automation.guide_pdf import print_pdf
from automation.media import ffmpeg, h264_encoder, to_gif, to_mp4
from automation.runner import Reporter

# What these write into DIR: removed before a run with the recorder's own outputs.
EXTRA_OUTPUTS = ("video.vtt", "video.mp4", "guide.gif", "guide.pdf")


@dataclass
class Extras:
    captions: Path | None = None
    mp4: Path | None = None
    encoder: str | None = None
    gif: Path | None = None
    pdf: Path | None = None
    pdf_pages: int = 0
    markdown: Path | None = None
    page: Path | None = None
    changes: list[StepChange] = field(default_factory=list)


def check_tools(video: bool) -> None:
    """ffmpeg (the GIF, thumbnails) and, with a video, its H.264 encoder: checked before the
    run, not found missing once a key was made."""
    ffmpeg()
    if video:
        h264_encoder()


def check_compare_dir(folder: Path) -> Path:
    """`--compare DIR`: a previous guide (or its steps/) with step pictures; checked before
    anything starts."""
    steps = folder / "steps" if (folder / "steps").is_dir() else folder
    if not folder.is_dir() or not any(steps.glob("[0-9]*-*.png")):
        raise InputError(
            f"--compare {folder}: no step pictures there (steps/NN-<step>.png of a guide "
            "`htx-keys record` wrote)"
        )
    return steps


def keep_old_pictures(steps: Path, out_dir: Path, tmp: Path) -> Path:
    """A copy of the pictures to compare with when they are the ones this run replaces."""
    if steps.resolve() not in (out_dir.resolve(), (out_dir / "steps").resolve()):
        return steps
    copy = tmp / "previous-steps"
    shutil.copytree(steps, copy)
    return copy


def write_outputs(
    out_dir: Path,
    guide: Guide,
    chapters_file: Path | None,
    video: Path | None,
    pictures: Sequence[Path],
    browser: BrowserChoice,
    reporter: Reporter,
    *,
    private: bool,
    compare: Path | None = None,
    threshold: float = 0.005,
) -> Extras:
    """Captions and MP4 (with a video), the guide (with its player), GIF, PDF, comparison."""
    extras = Extras()
    sources: list[tuple[str, str]] = []
    captions_text = None
    if video is not None:
        if chapters_file is not None:
            data = json.loads(chapters_file.read_text(encoding="utf-8"))
            duration = data.get("duration")
            captions_text = render_vtt(cues(data["chapters"], duration))
            extras.captions = _write_text(out_dir / "video.vtt", captions_text, private)
        reporter.info("making video.mp4 (H.264) from video.webm")
        mp4 = out_dir / "video.mp4"
        extras.encoder = to_mp4(video, mp4)
        extras.mp4 = _own(mp4, private)
        sources = [("video.mp4", "video/mp4"), (video.name, "video/webm")]
    player = Player(tuple(sources), captions_text) if sources else None
    extras.markdown, extras.page = write_guide(guide, out_dir, private=private, player=player)
    if pictures:
        gif = out_dir / "guide.gif"
        to_gif(pictures, gif)
        extras.gif = _own(gif, private)
    reporter.info("printing guide.pdf with Chromium")
    pdf = out_dir / "guide.pdf"
    # Printed without the player: the paper has no video.
    html = render_html(guide, out_dir)
    extras.pdf_pages = print_pdf(html, pdf, BrowserOptions(browser), private=private)
    extras.pdf = pdf
    if compare is not None:
        extras.changes = compare_steps(pictures, compare, threshold)
    return extras


def _write_text(path: Path, text: str, private: bool) -> Path:
    if private:
        atomic_write(path, text.encode("utf-8"))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _own(path: Path, private: bool) -> Path:
    if private:
        os.chmod(path, 0o600)
    return path


def extras_paths(extras: Extras) -> dict[str, Any]:
    def name(path: Path | None) -> str | None:
        return str(path) if path is not None else None

    return {
        "captions": name(extras.captions),
        "mp4": name(extras.mp4),
        "mp4_encoder": extras.encoder,
        "gif": name(extras.gif),
        "pdf": name(extras.pdf),
        "pdf_pages": extras.pdf_pages,
    }
