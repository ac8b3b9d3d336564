"""Trace and video of a run, kept or dropped as pytest-playwright's options say, scrubbed.

`--trace/--video/--screenshot on|off|retain-on-failure` mean what they mean in
pytest-playwright: recorded and kept, not recorded, or recorded and kept only when the run
fails. A kept trace is scrubbed with REDACTOR.scrub_zip before anyone can open it, because
Playwright records filled values, page text and network bodies as they are: Playwright writes
it into a private temporary folder, and only the scrubbed archive is moved into place.

The video is Playwright's screencast (>= 1.59): a chapter card per step and the element of each
action highlighted. Without it (an older Playwright), the context's record_video_dir is used,
without chapters.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from automation.browser import VIEWPORT
from automation.errors import ConfigError
from automation.files import atomic_write
from automation.modes import ArtifactModes, kept
from automation.redaction import REDACTOR, Redactor
from automation.runner import Step
from automation.session import register_state

VideoMethod = Literal["screencast", "record_video_dir"]

# The screencast's action callout names the value typed ('Fill "hunter2"'): never shown.
ACTION_STYLE = {
    "title": "display: none",
    "highlight": "outline: 3px solid #ff5a1f; border-radius: 4px",
}


def screencast_available() -> bool:
    from playwright.sync_api import Page

    return hasattr(Page, "screencast")


@dataclass(frozen=True)
class Chapter:
    number: int  # the recorded step's number (skipped steps have none)
    title: str
    description: str
    start: float  # seconds from the start of the video


@dataclass
class RunArtifacts:
    """One run's trace and video: started with the page, stopped before its context closes."""

    modes: ArtifactModes
    directory: Path
    chapter_ms: float = 1500.0  # how long a chapter card holds the run (it blocks, for reading)
    private: bool = True  # 0600 files (a run under the state dir), or the umask's (docs)
    clock: Callable[[], float] = time.monotonic
    chapters: list[Chapter] = field(default_factory=list)
    trace: Path | None = None  # set once kept
    video: Path | None = None
    chapters_file: Path | None = None
    notes: list[str] = field(default_factory=list)  # what the run should tell the person
    # Not secrets, but personal: the account's login. Scrubbed from the trace only, so that
    # progress lines can still say which mailbox is read.
    private_texts: list[str] = field(default_factory=list)
    _tracing: Any = None
    _video_started: float | None = None
    video_seconds: float | None = None  # how long the screencast ran, once stopped
    _screencast_page: Any = None
    _finished: bool = False

    def __post_init__(self) -> None:
        self.video_method: VideoMethod | None = None
        if self.modes.video != "off":
            self.video_method = "screencast" if screencast_available() else "record_video_dir"

    @property
    def fallback_video_dir(self) -> Path | None:
        """For BrowserOptions.record_video_dir when there is no screencast API."""
        if self.video_method != "record_video_dir":
            return None
        return self.directory / ".video"

    @property
    def tracing(self) -> Any:
        """The context's tracing while a trace is recorded (run_flow groups steps in it)."""
        return self._tracing

    def start(self, page: Any, title: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700 if self.private else 0o777)
        if self.video_method == "screencast":
            from playwright.sync_api import Error as PlaywrightError

            # Before tracing: the first screencast sets the frame size, and the video wants
            # the full viewport rather than the trace's 800x500 thumbnails (the trace then
            # stores full-size frames too: larger, ~0.5 MB per second of run).
            try:
                page.screencast.start(path=str(self.directory / "video.webm"), size=VIEWPORT)
            except PlaywrightError as exc:
                raise ConfigError(
                    f"Could not start the video: {_first_line(exc)}",
                    hint="Playwright encodes video with ffmpeg: install it (scripts/install.sh "
                    "links Debian's where Playwright looks), or pass --video off",
                ) from None
            page.screencast.show_actions(duration=600, style=ACTION_STYLE)
            self._screencast_page = page
            self._video_started = self.clock()
        elif self.video_method == "record_video_dir":
            self._video_started = self.clock()
            self.notes.append(
                "this Playwright has no page.screencast: the video is the context's "
                "record_video_dir recording, without chapter cards"
            )
        if self.modes.trace != "off":
            page.context.tracing.start(screenshots=True, snapshots=True, title=title)
            self._tracing = page.context.tracing

    @contextmanager
    def quiet(self, page: Any) -> Iterator[None]:
        """No cursor or action highlight in a picture taken while the screencast records."""
        if self._screencast_page is None:
            yield
            return
        with suppress(Exception):
            page.screencast.hide_actions()
        try:
            yield
        finally:
            with suppress(Exception):
                page.screencast.show_actions(duration=600, style=ACTION_STYLE)

    def hooks(self, page_of: Callable[[Any], Any]) -> list[Any]:
        """Step hooks: a chapter card per step while the screencast records."""
        if self.video_method != "screencast":
            return []
        return [VideoChapters(self, page_of)]

    def stop(self, failed: bool, context: Any = None) -> None:
        """Before the context closes. Never raises: the run's own error matters more."""
        if context is not None and self._tracing is not None:
            register_session(context)
        if self._tracing is not None:
            tracing, self._tracing = self._tracing, None
            path = self.directory / "trace.zip"
            try:
                if kept(self.modes.trace, failed):
                    self._save_trace(tracing, path)
                    self.trace = path
                else:
                    tracing.stop()
            except Exception as exc:
                self.notes.append(f"the trace could not be saved: {_first_line(exc)}")
                path.unlink(missing_ok=True)  # a part copied: scrubbed, but no use to anyone
        if self._screencast_page is not None:
            page, self._screencast_page = self._screencast_page, None
            path = self.directory / "video.webm"
            if self._video_started is not None:
                self.video_seconds = round(self.clock() - self._video_started, 3)
            try:
                page.screencast.stop()
            except Exception as exc:
                self.notes.append(f"the video could not be saved: {_first_line(exc)}")
            self._keep_video(path, failed)

    def _save_trace(self, tracing: Any, path: Path) -> None:
        """Playwright writes the trace as recorded, secrets and all: into a folder only this
        user can open (0700, made by tempfile), where it is scrubbed; only the scrubbed file
        is moved into place, and the folder goes whatever happens."""
        with tempfile.TemporaryDirectory(prefix="htx-keys-trace-") as private:
            raw = Path(private) / "trace.zip"
            tracing.stop(path=str(raw))
            REDACTOR.scrub_zip(raw)
            personal = Redactor()
            for text in self.private_texts:
                personal.add(text, label="personal")
            personal.scrub_zip(raw)
            if not self.private:  # documentation: the umask's mode, like the guide's files
                shutil.copyfile(raw, path)
                return

            def copy(out: BinaryIO) -> None:
                with raw.open("rb") as scrubbed:
                    shutil.copyfileobj(scrubbed, out)

            atomic_write(path, copy)  # 0600 from the first byte

    def finish(self, failed: bool) -> None:
        """After the context closed: record_video_dir's file is complete only then."""
        folder = self.fallback_video_dir
        if folder is None or self._finished:
            return
        self._finished = True
        videos = sorted(folder.glob("*.webm")) if folder.is_dir() else []
        path = self.directory / "video.webm"
        if videos:
            shutil.move(str(videos[0]), path)
        shutil.rmtree(folder, ignore_errors=True)
        self._keep_video(path, failed)

    def _keep_video(self, path: Path, failed: bool) -> None:
        if not path.exists():
            return
        if not kept(self.modes.video, failed):
            path.unlink()
            return
        self._own(path)
        self.video = path
        if self.chapters:
            self.chapters_file = self.directory / "chapters.json"
            data: dict[str, Any] = {"video": path.name}
            if self.video_seconds is not None:
                data["duration"] = self.video_seconds
            data["chapters"] = [asdict(c) for c in self.chapters]
            self.chapters_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            self._own(self.chapters_file)

    def _own(self, path: Path) -> None:
        if self.private:
            os.chmod(path, 0o600)

    def kept_files(self) -> list[Path]:
        return [p for p in (self.trace, self.video, self.chapters_file) if p is not None]


def register_session(context: Any) -> None:
    """The session the site gave this run is a secret too: its cookie is in every request the
    trace recorded, a token kept in localStorage in the calls that send it. The same rule as
    for a saved session (automation/session.py)."""
    try:
        state = context.storage_state()
    except Exception:
        return
    register_state(state)


class VideoChapters:
    """A step hook: a chapter card (title and sentence of the step) as each step begins."""

    def __init__(self, artifacts: RunArtifacts, page_of: Callable[[Any], Any]) -> None:
        self.artifacts = artifacts
        self.page_of = page_of
        self.count = 0  # recorded steps so far: the hook sees no skipped step

    def before_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        artifacts = self.artifacts
        self.count += 1
        number = self.count
        started = artifacts._video_started
        page = self.page_of(ctx)
        if started is None or page is None:
            return
        at = round(artifacts.clock() - started, 3)
        try:
            page.screencast.show_chapter(
                f"Step {number}: {step.title}",
                description=step.description,
                duration=artifacts.chapter_ms,
            )
        except Exception as exc:
            artifacts.notes.append(f"no chapter card for step {number}: {_first_line(exc)}")
            return
        artifacts.chapters.append(Chapter(number, step.title, step.description, at))

    def after_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        return None

    def on_failure(self, index: int, step: Step[Any], ctx: Any, error: BaseException) -> None:
        return None


def _first_line(exc: BaseException) -> str:
    text = REDACTOR.scrub(str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
