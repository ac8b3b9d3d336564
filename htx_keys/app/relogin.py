"""Running a flow when HTX may end the session halfway: log in again and start it over.

A call refused for want of a session did nothing (the site sent the page to its login form
instead of acting), so the operation can start again from the top once signed in: with the
password when one is set, else the run stops with the one-line SessionEnded (exit 4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from automation.errors import SessionEnded
from automation.runner import Flow, Reporter, RunResult, StepHook, run_flow
from flows.htx.context import SiteContext

C = TypeVar("C", bound=SiteContext)


def run_signed_in(
    flow: Flow[C],
    ctx: C,
    *,
    reporter: Reporter,
    hooks: Sequence[StepHook[Any]] = (),
    tracing: Any = None,
    login: Flow[Any] | None = None,
) -> RunResult:
    """Run `flow`; if HTX ends the session midway, log in again (`login`, or the flow's own
    login steps when it starts with them) and run it once more from its start."""
    try:
        return run_flow(flow, ctx, reporter=reporter, hooks=hooks, tracing=tracing)
    except SessionEnded as exc:
        if not ctx.password:
            raise
        reporter.info(f"{exc.message}; logging in again and starting over")
    # Not a saved session any more: the flow's first step logs in with the password.
    ctx.logged_in = ctx.saved_session = False
    ctx.session_renewed = True
    if login is not None:
        run_flow(login, ctx, reporter=reporter, hooks=hooks, tracing=tracing)
    return run_flow(flow, ctx, reporter=reporter, hooks=hooks, tracing=tracing)
