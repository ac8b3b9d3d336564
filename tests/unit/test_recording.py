"""Step.target / Step.shot through run_flow to the recorder's pictures, with a fake page."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from automation.blur import ATTR, blur_script
from automation.errors import SiteError
from automation.modes import ArtifactModes, kept
from automation.recording import OUTLINE_ATTR, FailureScreenshot, StepShots
from automation.redaction import REDACTOR
from automation.runner import Flow, Reporter, Step, run_flow
from flows.htx.login import LOGIN_STEPS
from flows.htx.provision import KEY_STEPS, PROVISION


class FakeLocator:
    def __init__(self, page: FakePage, name: str, box: dict[str, float] | None = None) -> None:
        self.page = page
        self.name = name
        self.box = box

    @property
    def first(self) -> FakeLocator:
        return self

    def and_(self, other: FakeLocator) -> FakeLocator:
        return FakeLocator(self.page, f"{self.name} & {other.name}", self.box)

    def is_visible(self) -> bool:
        return self.box is not None

    def scroll_into_view_if_needed(self, timeout: float) -> None:
        self.page.calls.append(f"scroll {self.name}")

    def bounding_box(self, timeout: float) -> dict[str, float] | None:
        return self.box


class FakePage:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.shots: list[tuple[str, list[str], bool]] = []
        self.outlined = False
        self.context = SimpleNamespace(tracing=None)  # not tracing

    def is_closed(self) -> bool:
        return False

    def evaluate(self, script: str, arg: Any = None) -> None:
        if "popover" in script:
            self.outlined = True
            self.calls.append(f"outline {arg[1]} at {arg[0]['x']},{arg[0]['y']}")
        elif OUTLINE_ATTR in str(arg):
            self.outlined = False
            self.calls.append("remove outline")
        else:
            self.calls.append(f"mark {sorted(arg['texts'])}")

    def locator(self, selector: str) -> FakeLocator:
        return FakeLocator(self, selector)

    def get_by_text(self, text: str) -> FakeLocator:
        return FakeLocator(self, f"text={text}")

    def screenshot(self, *, path: str, mask: list[FakeLocator], **kwargs: Any) -> None:
        Path(path).write_bytes(b"png")
        self.shots.append((Path(path).name, [m.name for m in mask], self.outlined))
        self.calls.append(f"shot {Path(path).name}")


class Ctx:
    def __init__(self) -> None:
        self.page = FakePage()
        self.log: list[str] = []


def step(title: str, shot: str = "before", skip: bool = False, box: bool = True) -> Step[Ctx]:
    where = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0} if box else None
    return Step(
        title,
        f"{title}.",
        lambda ctx: ctx.log.append(title),
        skip=(lambda ctx: "not needed") if skip else None,
        target=lambda ctx: FakeLocator(ctx.page, title, where),  # type: ignore[arg-type,return-value]
        shot=shot,  # type: ignore[arg-type]
    )


def shots_hook(directory: Path | None) -> StepShots:
    return StepShots(
        directory,
        page=lambda ctx: ctx.page,
        mask=lambda page, texts: [page.locator("#password")],
        labels=("Password",),
        texts=lambda ctx: ["me@example.test"],
    )


def test_pictures_are_taken_before_or_after_as_each_step_says_and_numbered_without_skips(
    tmp_path: Path,
) -> None:
    ctx = Ctx()
    flow = Flow(
        name="t",
        title="T",
        steps=(
            step("Open", shot="after"),
            step("Skipped", skip=True),
            step("Press", box=False),
            step("Fill", shot="after"),
        ),
    )
    shots = shots_hook(tmp_path / "steps")

    class Order:
        def before_step(self, index: int, s: Step[Ctx], c: Ctx) -> None:
            c.page.calls.append(f"before {s.title}")

        def after_step(self, index: int, s: Step[Ctx], c: Ctx) -> None:
            c.page.calls.append(f"after {s.title}")

        def on_failure(self, *args: Any) -> None:
            return None

    run_flow(flow, ctx, reporter=Reporter(io.StringIO()), hooks=[Order(), shots])
    assert [(r.number, r.index, r.step.title) for r in shots.recorded] == [
        (1, 1, "Open"),
        (2, 3, "Press"),
        (3, 4, "Fill"),
    ]
    calls = [c for c in ctx.page.calls if not c.startswith(("mark", "scroll"))]
    assert calls == [
        "before Open",
        "after Open",
        "outline 1 at 10.0,20.0",
        "shot 01-open.png",
        "remove outline",
        "before Press",
        "shot 02-press.png",  # no visible target: a picture without an outline
        "after Press",
        "before Fill",
        "after Fill",
        "outline 3 at 10.0,20.0",
        "shot 03-fill.png",
        "remove outline",
    ]
    assert ctx.log == ["Open", "Press", "Fill"]
    assert [p.name for p in shots.images] == ["01-open.png", "02-press.png", "03-fill.png"]
    # The page marked what to blur just before each picture, with the run's texts.
    assert "mark ['me@example.test']" in ctx.page.calls


def test_every_picture_masks_page_object_fields_marked_elements_and_registered_secrets(
    tmp_path: Path,
) -> None:
    REDACTOR.add("registered-secret-value", label="test")
    ctx = Ctx()
    flow = Flow(name="t", title="T", steps=(step("Open"),))
    shots = shots_hook(tmp_path)
    run_flow(flow, ctx, reporter=Reporter(io.StringIO()), hooks=[shots])
    ((name, masks, outlined),) = ctx.page.shots
    assert name == "01-open.png" and outlined
    filled = f':not([{ATTR}="empty"])'
    assert f"#password & {filled}" in masks
    assert f"[{ATTR}] & {filled}" in masks
    assert "text=registered-secret-value" in masks


def test_a_failure_picture_masks_registered_secrets_as_step_pictures_do(tmp_path: Path) -> None:
    """A page may echo a secret back (an error naming the value, a dialog showing the key)
    where the page objects do not expect it."""
    REDACTOR.add("echoed-back-secret-value", label="test")
    ctx = Ctx()
    failure = FailureScreenshot(
        tmp_path / "run", page=lambda c: c.page, mask=lambda page: [page.locator("input")]
    )

    def fails(c: Ctx) -> None:
        raise SiteError("the page refused it")

    with pytest.raises(SiteError):
        run_flow(
            Flow("t", "T", (Step("Fill", "Fill.", fails),)),
            ctx,
            reporter=Reporter(io.StringIO()),
            hooks=[failure],
        )
    ((name, masks, _outlined),) = ctx.page.shots
    assert name == "failed-step-01-fill.png"
    assert "input" in masks
    assert "text=echoed-back-secret-value" in masks
    assert failure.saved == [tmp_path / "run" / name]


def test_without_a_directory_steps_are_listed_but_not_pictured(tmp_path: Path) -> None:
    ctx = Ctx()
    shots = shots_hook(None)
    run_flow(
        Flow("t", "T", (step("A"), step("B"))), ctx, reporter=Reporter(io.StringIO()), hooks=[shots]
    )
    assert [r.step.title for r in shots.recorded] == ["A", "B"]
    assert shots.images == [] and ctx.page.shots == []


def test_a_picture_that_fails_is_reported_not_raised(tmp_path: Path) -> None:
    warnings: list[str] = []
    ctx = Ctx()

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("screenshot failed\nmore")

    ctx.page.screenshot = broken  # type: ignore[method-assign]
    shots = shots_hook(tmp_path)
    shots.warn = warnings.append
    run_flow(Flow("t", "T", (step("A"),)), ctx, reporter=Reporter(io.StringIO()), hooks=[shots])
    assert ctx.log == ["A"]
    assert warnings == ["no picture of step 1 (A): screenshot failed"]
    assert shots.recorded[0].image is None
    assert "remove outline" in ctx.page.calls  # the outline never stays in the page


def test_every_htx_step_names_its_target_and_moment() -> None:
    steps = PROVISION.steps
    assert steps == (*LOGIN_STEPS, *KEY_STEPS)
    assert all(s.target is not None for s in steps)
    after = [s.title for s in steps if s.shot == "after"]
    assert after == [
        "Open the HTX website",
        "Fill in the note, permissions and IP whitelist",
        "Close the dialog and check the key list",
    ]
    assert PROVISION.requirements and all(r.endswith(".") for r in PROVISION.requirements)


def test_step_defaults() -> None:
    plain: Step[object] = Step("A", "a.", lambda ctx: None)
    assert plain.target is None and plain.shot == "before"
    assert Flow("f", "F", (plain,)).requirements == ()


@pytest.mark.parametrize(
    ("mode", "failed", "keep"),
    [
        ("on", False, True),
        ("on", True, True),
        ("off", True, False),
        ("retain-on-failure", False, False),
        ("retain-on-failure", True, True),
    ],
)
def test_modes_mean_what_pytest_playwright_means(mode: str, failed: bool, keep: bool) -> None:
    assert kept(mode, failed) is keep  # type: ignore[arg-type]


def test_the_page_blurs_only_when_something_is_recorded() -> None:
    assert not ArtifactModes().recording  # provision's default: a failure picture only
    assert ArtifactModes(screenshot="on").recording
    assert ArtifactModes(trace="retain-on-failure", screenshot="off").recording
    assert ArtifactModes(video="on", screenshot="off").recording


def test_the_blur_script_carries_labels_and_texts_but_never_registered_secrets() -> None:
    REDACTOR.add("never-in-the-page-123", label="test")
    script = blur_script(["Password", "Secret Key"], ["me@example.test", ""])
    assert '"labels": ["Password", "Secret Key"]' in script
    assert '"texts": ["me@example.test"]' in script
    assert "never-in-the-page-123" not in script
    assert ATTR in script
