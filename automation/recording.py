"""Pictures of a run: one per step for the guide, and a masked one when a step fails.

Every image masks what the flow's page objects say may show a secret or a code, every element
whose text shows an email address or a given text (a key), and every element the page marked
as sensitive (automation/blur.py). The guide's pictures also outline the element the step acts
on, with the step's number in a badge.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.blur import ATTR, EMPTY, apply_blur
from automation.files import private_dir
from automation.redaction import REDACTOR
from automation.runner import Step, tracing_group

MASK_COLOR = "#2f3542"
OUTLINE_COLOR = "#ff5a1f"
OUTLINE_ATTR = "data-htx-keys-outline"

# A popover, so that it sits in the top layer above a modal <dialog> (the site's dialogs are).
_OUTLINE_JS = """
([box, number, color, attr]) => {
  const root = document.createElement("div");
  root.setAttribute(attr, "");
  root.setAttribute("popover", "manual");
  root.style.cssText = "position:fixed;inset:0;margin:0;padding:0;border:0;width:100vw;"
    + "height:100vh;max-width:none;max-height:none;background:transparent;overflow:visible;"
    + "pointer-events:none;";
  const pad = 5;
  const frame = document.createElement("div");
  frame.style.cssText = `position:fixed;box-sizing:border-box;left:${box.x - pad}px;`
    + `top:${box.y - pad}px;width:${box.width + 2 * pad}px;height:${box.height + 2 * pad}px;`
    + `border:3px solid ${color};border-radius:8px;box-shadow:0 0 0 4px ${color}33;`;
  const badge = document.createElement("div");
  badge.textContent = String(number);
  const left = Math.max(2, box.x - pad - 14), top = Math.max(2, box.y - pad - 14);
  badge.style.cssText = `position:fixed;left:${left}px;top:${top}px;width:28px;height:28px;`
    + `border-radius:50%;background:${color};color:#fff;font:700 15px/28px sans-serif;`
    + "text-align:center;box-shadow:0 1px 3px rgba(0,0,0,.35);";
  root.append(frame, badge);
  (document.body || document.documentElement).append(root);
  if (root.showPopover) root.showPopover();
}
"""


def new_run_dir(root: Path, name: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = root / f"{name}-{stamp}-{os.getpid()}"
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    return path


def registered_secrets(page: Any) -> list[Any]:
    """Every element whose text shows a registered secret (a page may echo a value back in
    an error or a dialog). Looked for by Playwright's own isolated script, never handed to
    the page's."""
    return [page.get_by_text(value) for value in sorted(REDACTOR.values)]


@dataclass
class FailureScreenshot:
    """A step hook: on failure, a masked full-page screenshot in `directory`: the fields the
    flow names, and any text showing a registered secret, as the step pictures mask them."""

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
        masks = [*self.mask(page), *registered_secrets(page)]
        try:
            page.screenshot(
                path=str(path), full_page=True, mask=masks, mask_color=MASK_COLOR, timeout=10_000
            )
        except Exception:
            return  # a screenshot must never hide the error that brought us here
        os.chmod(path, 0o600)
        self.saved.append(path)


@dataclass
class RecordedStep:
    number: int  # in the guide: skipped steps are not counted
    index: int  # in the flow
    step: Step[Any]
    image: Path | None = None


@dataclass
class StepShots:
    """A step hook: the list of recorded steps and, with a directory, a picture of each.

    The picture is taken before or after the step (Step.shot), with the step's target
    outlined and numbered. A picture that cannot be taken is reported, not raised: the run
    itself matters more than its documentation.
    """

    directory: Path | None  # None: no pictures, only the list of recorded steps
    page: Callable[[Any], Any]  # ctx -> Page
    mask: Callable[[Any, list[str]], list[Any]]  # (page, texts) -> locators to paint over
    labels: Sequence[str] = ()  # labels of sensitive fields, for the in-page marking
    texts: Callable[[Any], list[str]] = lambda ctx: []  # ctx -> texts to hide (login, key)
    quiet: Callable[[Any], AbstractContextManager[Any]] = lambda page: nullcontext()
    warn: Callable[[str], None] = lambda message: None
    private: bool = True
    recorded: list[RecordedStep] = field(default_factory=list)

    def before_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        self.recorded.append(RecordedStep(len(self.recorded) + 1, index, step))
        if step.shot == "before":
            self._take(self.recorded[-1], ctx)

    def after_step(self, index: int, step: Step[Any], ctx: Any) -> None:
        if step.shot == "after" and self.recorded and self.recorded[-1].index == index:
            self._take(self.recorded[-1], ctx)

    def on_failure(self, index: int, step: Step[Any], ctx: Any, error: BaseException) -> None:
        return None

    @property
    def images(self) -> list[Path]:
        return [r.image for r in self.recorded if r.image is not None]

    def _take(self, rec: RecordedStep, ctx: Any) -> None:
        page = self.page(ctx)
        if self.directory is None or page is None or page.is_closed():
            return
        if self.private:
            private_dir(self.directory)
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{rec.number:02d}-{rec.step.slug}.png"
        # One collapsed group in the trace, apart from the step's own actions.
        with tracing_group(page.context.tracing, f"Recorder: picture of step {rec.number}"):
            taken = self._shoot(page, path, rec, ctx)
        if not taken:
            return
        if self.private:
            os.chmod(path, 0o600)
        rec.image = path

    def _shoot(self, page: Any, path: Path, rec: RecordedStep, ctx: Any) -> bool:
        texts = [t for t in self.texts(ctx) if t]
        try:
            box = _target_box(rec.step, ctx)
            apply_blur(page, self.labels, texts)  # marks what shows a secret right now
            # An empty sensitive field is left unpainted (it stays blurred in the page): a
            # site may put a button inside it, such as "Send" in a code box.
            filled = page.locator(f':not([{ATTR}="{EMPTY}"])')
            masks = [
                *(m.and_(filled) for m in self.mask(page, texts)),
                page.locator(f"[{ATTR}]").and_(filled),
                *registered_secrets(page),
            ]
            with self.quiet(page):
                if box is not None:
                    page.evaluate(_OUTLINE_JS, [box, rec.number, OUTLINE_COLOR, OUTLINE_ATTR])
                try:
                    page.screenshot(
                        path=str(path),
                        mask=masks,
                        mask_color=MASK_COLOR,
                        animations="disabled",
                        timeout=15_000,
                    )
                finally:
                    if box is not None:
                        page.evaluate(
                            "attr => document.querySelectorAll(`[${attr}]`)"
                            ".forEach(e => e.remove())",
                            OUTLINE_ATTR,
                        )
        except Exception as exc:
            text = REDACTOR.scrub(str(exc)).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            self.warn(f"no picture of step {rec.number} ({rec.step.title}): {first}")
            return False
        return True


def _target_box(step: Step[Any], ctx: Any) -> dict[str, float] | None:
    """Where the step's element is on screen, scrolled into view; None when not shown."""
    if step.target is None:
        return None
    try:
        target = step.target(ctx)
        if target is None or not target.first.is_visible():
            return None
        target.first.scroll_into_view_if_needed(timeout=2_000)
        box = target.first.bounding_box(timeout=2_000)
    except Exception:
        return None  # a picture without an outline beats no picture
    if not box:
        return None
    return {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}
