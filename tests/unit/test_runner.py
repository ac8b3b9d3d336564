import io

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from automation.errors import RejectedError, SiteError
from automation.redaction import REDACTOR
from automation.runner import Flow, Reporter, Step, run_flow


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def before_step(self, index, step, ctx) -> None:
        self.events.append(f"before {index}")

    def after_step(self, index, step, ctx) -> None:
        self.events.append(f"after {index}")

    def on_failure(self, index, step, ctx, error) -> None:
        self.events.append(f"failed {index} {type(error).__name__}")


def make_flow(*actions) -> Flow[list[str]]:
    return Flow(
        name="t",
        title="Test",
        steps=tuple(Step(f"Step {i}", f"Does {i}.", a) for i, a in enumerate(actions, 1)),
    )


def test_steps_run_in_order_with_progress_and_hooks() -> None:
    log: list[str] = []
    out = io.StringIO()
    hook = Recorder()
    flow = make_flow(lambda c: c.append("a"), lambda c: c.append("b"))
    result = run_flow(flow, log, reporter=Reporter(out), hooks=[hook])
    assert log == ["a", "b"]
    assert [t.title for t in result.timings] == ["Step 1", "Step 2"]
    assert out.getvalue().splitlines() == ["[1/2] Step 1", "[2/2] Step 2"]
    assert hook.events == ["before 1", "after 1", "before 2", "after 2"]


def test_playwright_timeout_becomes_a_site_error_naming_the_step() -> None:
    REDACTOR.add("pw-in-message-123", label="test")

    def boom(ctx: list[str]) -> None:
        raise PlaywrightTimeout("Timeout 30000ms exceeded pw-in-message-123.\nCall log: ...")

    hook = Recorder()
    with pytest.raises(SiteError) as err:
        run_flow(
            make_flow(lambda c: None, boom), [], reporter=Reporter(io.StringIO()), hooks=[hook]
        )
    assert str(err.value) == ("Step 2 (Step 2) timed out: Timeout 30000ms exceeded ********.")
    assert hook.events[-1] == "failed 2 SiteError"


def test_own_errors_pass_through_unchanged_and_later_steps_do_not_run() -> None:
    ran: list[str] = []

    def refuse(ctx: list[str]) -> None:
        raise RejectedError("limit reached")

    with pytest.raises(RejectedError):
        run_flow(
            make_flow(refuse, lambda c: ran.append("x")), ran, reporter=Reporter(io.StringIO())
        )
    assert ran == []


def test_retries_only_site_errors() -> None:
    calls = {"n": 0}

    def flaky(ctx: None) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise SiteError("first time")

    flow = Flow(name="t", title="T", steps=(Step("Flaky", "x.", flaky, retries=1),))
    run_flow(flow, None, reporter=Reporter(io.StringIO()))
    assert calls["n"] == 2


def test_secrets_are_scrubbed_from_progress() -> None:
    REDACTOR.add("s3cr3t-progress", label="test")
    out = io.StringIO()
    Reporter(out).info("value s3cr3t-progress here")
    assert "s3cr3t-progress" not in out.getvalue()


def test_a_step_can_be_skipped_with_a_reason() -> None:
    ran: list[str] = []
    out = io.StringIO()
    flow: Flow[object] = Flow(
        name="t",
        title="T",
        steps=(
            Step("Log in", "x.", lambda c: ran.append("login"), skip=lambda c: "saved session"),
            Step("Create", "y.", lambda c: ran.append("create")),
        ),
    )
    result = run_flow(flow, ran, reporter=Reporter(out))
    assert ran == ["create"]
    assert [t.title for t in result.timings] == ["Create"]
    assert out.getvalue().splitlines() == ["[1/2] Log in: skipped (saved session)", "[2/2] Create"]


def test_progress_to_a_terminal_that_is_gone_does_not_stop_the_run() -> None:
    """After a hang-up the terminal is gone and every write to it fails (EIO): the revoke
    `exec` is in the middle of must go on all the same."""

    class Gone(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(5, "Input/output error")

    closed = io.StringIO()
    closed.close()  # a closed stream raises ValueError
    for stream in (Gone(), closed):
        reporter = Reporter(stream)
        reporter.info("deleting key AKxxxxxx on HTX")
        reporter.step(1, 2, Step("Open", "Open it.", lambda ctx: None))
