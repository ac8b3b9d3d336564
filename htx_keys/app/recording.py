"""What a run records: pictures, trace and video, joined to the HTX page objects.

The machinery is exchange-agnostic (automation/recording.py, artifacts.py, blur.py); this is where
it learns which HTX fields are sensitive (flows/htx/pages.py) and which texts of a run to hide
(the account's login, the new access key).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.artifacts import RunArtifacts
from automation.blur import KeepBlurred
from automation.modes import ArtifactModes
from automation.recording import FailureScreenshot, StepShots
from automation.runner import Reporter, StepHook
from flows.htx.context import SiteContext
from flows.htx.masks import failure_mask, recording_mask
from flows.htx.pages import sensitive_labels


def texts_to_hide(ctx: SiteContext) -> list[str]:
    """The run's own texts a picture or frame must not show: the login and the new access key.

    These go to the page's blurring script, so nothing secret is here: the secret key, codes
    and passwords are in REDACTOR, which pictures mask through Playwright's own script, and
    the fields that hold them are blurred by label.
    """
    texts = [ctx.email]
    record = getattr(ctx, "record", None)
    if record is not None:
        texts.append(record.access_key)
    return texts


def _page(ctx: Any) -> Any:
    return ctx.page


@dataclass
class Recording:
    """One run's artifacts: in `directory` (a run dir under --output, or record's --out)."""

    directory: Path
    modes: ArtifactModes
    shots: StepShots
    artifacts: RunArtifacts
    blur: KeepBlurred
    failure: FailureScreenshot | None
    own_directory: bool  # a run dir made for this run: removed again when left empty

    @property
    def hooks(self) -> list[StepHook[Any]]:
        # Order matters: the picture of a step is taken before its chapter card covers the page.
        hooks: list[StepHook[Any]] = [self.blur, self.shots, *self.artifacts.hooks(_page)]
        if self.failure is not None:
            hooks.append(self.failure)
        return hooks

    @property
    def tracing(self) -> Any:
        return self.artifacts.tracing

    def start(self, page: Any, email: str, title: str) -> None:
        self.artifacts.private_texts.append(email)
        if self.modes.recording:
            # The secret key never goes to the page: its field is found by label.
            self.blur.install(page, [email])
        self.artifacts.start(page, title)

    def files(self) -> list[Path]:
        saved = self.failure.saved if self.failure else []
        return [*saved, *self.shots.images, *self.artifacts.kept_files()]

    def describe(self) -> str:
        """'DIR (trace.zip, video.webm, steps/)' for messages."""
        names: list[str] = []
        for path in self.files():
            rel = path.relative_to(self.directory)
            name = f"{rel.parts[0]}/" if len(rel.parts) > 1 else rel.name
            if name not in names:
                names.append(name)
        return f"{self.directory} ({', '.join(names)})"

    def failure_hint(self) -> str | None:
        files = self.files()
        if not files:
            return None
        if self.failure and files == self.failure.saved:
            return f"screenshot of the failed step: {files[-1]}"
        return f"artifacts of the failed run (scrubbed): {self.describe()}"

    def tidy(self) -> None:
        if self.own_directory:
            with contextlib.suppress(OSError):
                self.directory.rmdir()


def new_recording(
    directory: Path,
    modes: ArtifactModes,
    reporter: Reporter,
    *,
    own_directory: bool,
    chapter_ms: float = 1500.0,
    private: bool = False,
) -> Recording:
    # A run dir under the state dir is private, and so is what a real account's recording
    # writes (`record --base-url`); the replica's guide is documentation.
    private = private or own_directory
    artifacts = RunArtifacts(modes, directory, chapter_ms=chapter_ms, private=private)
    shots = StepShots(
        directory / "steps" if modes.screenshot == "on" else None,
        page=_page,
        mask=recording_mask,
        labels=sensitive_labels(),
        texts=texts_to_hide,
        quiet=artifacts.quiet,
        warn=reporter.info,
        private=private,
    )
    failure = None
    if modes.screenshot != "off":
        failure = FailureScreenshot(directory=directory, page=_page, mask=failure_mask)
    blur = KeepBlurred(page=_page, labels=sensitive_labels(), texts=texts_to_hide)
    return Recording(directory, modes, shots, artifacts, blur, failure, own_directory)
