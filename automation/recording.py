"""Pictures of a run: a masked screenshot when a step fails (the guide recorder grows here).

Every image masks what the flow's page objects say may show a secret or a code.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.runner import Step


def new_run_dir(root: Path, name: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / f"{name}-{stamp}-{os.getpid()}"
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    return path


@dataclass
class FailureScreenshot:
    """A step hook: on failure, a masked full-page screenshot in `directory`."""

    directory: Path
    page: Callable[[Any], Any]  # ctx -> Page
    mask: Callable[[Any], list[Any]]  # page -> sensitive locators
    saved: list[Path] = field(default_factory=list)

    def before_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        return None

    def after_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        return None

    def on_failure(self, index: int, step: Step[Any], ctx: Any, error: BaseException) -> None:
        page = self.page(ctx)
        if page is None or page.is_closed():
            return
        self.directory.mkdir(parents=True, mode=0o700, exist_ok=True)
        path = self.directory / f"failed-step-{index:02d}-{step.slug}.png"
        try:
            page.screenshot(path=str(path), full_page=True, mask=self.mask(page), timeout=10_000)
        except Exception:
            return  # a screenshot must never hide the error that brought us here
        os.chmod(path, 0o600)
        self.saved.append(path)
