"""Step / Flow / run_flow: one ordered list of named steps, run with progress and hooks.

A flow is written once; provisioning, CI runs and the documentation recorder all run the same
list. Hooks see every step (the recorder takes its screenshots there); progress goes to stderr
so stdout stays clean for data; Playwright's exceptions become one-line `SiteError`s that name
the step, scrubbed of secrets.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TextIO, TypeVar

from automation.errors import HtxKeysError, SiteError
from automation.redaction import REDACTOR

if TYPE_CHECKING:
    from playwright.sync_api import Locator

C = TypeVar("C")


@dataclass(frozen=True)
class Step(Generic[C]):
    title: str  # short, imperative: "Open API Management"
    description: str  # one sentence a person can follow
    action: Callable[[C], None]
    retries: int = 0  # only for steps that are safe to repeat
    # Why the step is not needed this time (a saved session, no new-device check), or None.
    skip: Callable[[C], str | None] | None = None
    # For the recorder: the element the step acts on (outlined and numbered in the guide's
    # picture), and which moment makes the better picture: "before" shows what is about to be
    # clicked, "after" shows a form once it is filled or a page once it has opened.
    target: Callable[[C], Locator | None] | None = None
    shot: Literal["before", "after"] = "before"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")


@dataclass(frozen=True)
class Flow(Generic[C]):
    name: str
    title: str
    steps: tuple[Step[C], ...]
    # What a person needs before starting: the guide's "What you need" list.
    requirements: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepTiming:
    index: int
    title: str
    seconds: float


class StepHook(Protocol[C]):
    def before_step(self, index: int, step: Step[C], ctx: C) -> None: ...
    def after_step(self, index: int, step: Step[C], ctx: C) -> None: ...
    def on_failure(self, index: int, step: Step[C], ctx: C, error: BaseException) -> None: ...


class Reporter:
    """Progress lines on stderr, every one passed through the redactor."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.waited = 0.0  # seconds spent on waits the site imposes (GA windows, countdowns)

    def _write(self, text: str) -> None:
        if self.quiet:
            return
        try:
            self.stream.write(REDACTOR.scrub(text) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            # The terminal is gone (a hang-up) or stderr was closed: progress is lost, but
            # the run, and the revoke or rescue it may be in the middle of, goes on.
            pass

    def step(self, index: int, total: int, step: Step[Any]) -> None:
        self._write(f"[{index}/{total}] {step.title}")

    def step_skipped(self, index: int, total: int, step: Step[Any], reason: str) -> None:
        self._write(f"[{index}/{total}] {step.title}: skipped ({reason})")

    def step_done(self, index: int, total: int, step: Step[Any], seconds: float) -> None:
        if seconds >= 1.0:
            self._write(f"      done in {seconds:.1f} s")

    def info(self, message: str) -> None:
        self._write(f"      {message}")

    def waiting(self, seconds: float, what: str, *, counted: bool = True) -> None:
        """Say that a wait the site imposes begins; `counted=False` when the one waiting
        counts it itself (count_wait), short waits included."""
        if counted:
            self.count_wait(seconds)
        self.info(f"waiting {seconds:.0f} s for {what}")

    def count_wait(self, seconds: float) -> None:
        self.waited += seconds


@dataclass
class RunResult:
    timings: list[StepTiming] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.timings)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def as_site_error(index: int, step: Step[Any], exc: BaseException) -> SiteError:
    """Turn a Playwright error into a one-line SiteError naming the step."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    what = "timed out" if isinstance(exc, PlaywrightTimeout) else "failed"
    detail = REDACTOR.scrub(_first_line(str(exc)))
    if browser_gone(exc):
        return SiteError(
            f"Step {index} ({step.title}) failed: the browser closed (Chromium crashed or was "
            "killed)",
            hint="run again; if Chromium keeps closing, check its memory and HTX_KEYS_BROWSER",
        )
    return SiteError(
        f"Step {index} ({step.title}) {what}: {detail}",
        hint="the page may have changed; selectors live in flows/htx/pages.py",
    )


def browser_gone(exc: BaseException) -> bool:
    """Whether a Playwright error means the page, its context or the browser is gone."""
    if type(exc).__name__ == "TargetClosedError":
        return True
    text = str(exc)
    return "has been closed" in text or "Target closed" in text or "Browser closed" in text


@contextmanager
def tracing_group(tracing: Any, title: str) -> Iterator[None]:
    """Group a step's actions in a Playwright trace; harmless when not tracing."""
    opened = False
    if tracing is not None:
        try:
            tracing.group(title)
            opened = True
        except Exception:  # older Playwright or tracing not started
            opened = False
    try:
        yield
    finally:
        if opened:
            with suppress(Exception):
                tracing.group_end()


def run_flow(
    flow: Flow[C],
    ctx: C,
    *,
    reporter: Reporter | None = None,
    hooks: Sequence[StepHook[C]] = (),
    tracing: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> RunResult:
    """Run every step in order; the first failure stops the flow after the hooks saw it."""
    from playwright.sync_api import Error as PlaywrightError

    reporter = reporter or Reporter()
    result = RunResult()
    total = len(flow.steps)
    for index, step in enumerate(flow.steps, 1):
        reason = step.skip(ctx) if step.skip is not None else None
        if reason:
            reporter.step_skipped(index, total, step, reason)
            continue
        reporter.step(index, total, step)
        for hook in hooks:
            hook.before_step(index, step, ctx)
        started = clock()
        attempt = 0
        while True:
            try:
                with tracing_group(tracing, f"{index}. {step.title}"):
                    step.action(ctx)
                break
            except (HtxKeysError, PlaywrightError) as exc:
                error: BaseException = exc
                if isinstance(exc, PlaywrightError):
                    error = as_site_error(index, step, exc)
                if attempt < step.retries and isinstance(error, SiteError):
                    attempt += 1
                    reporter.info(f"retrying ({attempt}/{step.retries}) after: {error}")
                    continue
                for hook in hooks:
                    hook.on_failure(index, step, ctx, error)
                if error is exc:
                    raise
                raise error from None
            except BaseException as exc:
                for hook in hooks:
                    hook.on_failure(index, step, ctx, exc)
                raise
        seconds = clock() - started
        result.timings.append(StepTiming(index, step.title, seconds))
        reporter.step_done(index, total, step, seconds)
        for hook in hooks:
            hook.after_step(index, step, ctx)
    return result
