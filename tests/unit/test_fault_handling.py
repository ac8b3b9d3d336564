"""How the tool tells the site's failures apart (no browser): the HTTP status behind an error
the page shows (automation/http_watch.py), a browser that closed under a step, and an
operation started over when HTX ends the session midway (htx_keys/app/relogin.py)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from automation.errors import SessionEnded, SiteError
from automation.http_watch import HttpWatch
from automation.runner import Flow, Reporter, Step, run_flow
from htx_keys.app.relogin import run_signed_in


@dataclass
class FakeRequest:
    method: str = "POST"


@dataclass
class FakeResponse:
    url: str
    status: int
    request: FakeRequest = field(default_factory=FakeRequest)


class FakePage:
    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def on(self, event: str, handler: Any) -> None:
        assert event == "response"
        self.handlers.append(handler)

    def answer(self, url: str, status: int) -> None:
        for handler in self.handlers:
            handler(FakeResponse(url, status))


def test_the_watch_keeps_the_sites_error_answers_only() -> None:
    now = [10.0]
    page = FakePage()
    watch = HttpWatch(page, "http://127.0.0.1:8400", clock=lambda: now[0])
    page.answer("http://127.0.0.1:8400/-/x/web/apikey/list", 200)
    page.answer("http://127.0.0.1:8400/-/x/web/apikey/precheck", 400)  # a field error
    page.answer("http://elsewhere.example/x", 500)  # another origin
    assert watch.answers == []
    page.answer("http://127.0.0.1:8400/-/x/web/verify/email/send", 429)
    now[0] = 10.5
    since = watch.mark()
    now[0] = 11.0
    page.answer("http://127.0.0.1:8400/-/x/web/apikey/create?x=1", 503)
    failed = watch.server_error(since)
    assert failed is not None and failed.describe() == "HTTP 503 to POST /-/x/web/apikey/create"
    assert watch.status_since(since, 429) is None  # before the mark
    assert watch.status_since(0.0, 429) is not None


def make_flow(*actions: Any) -> Flow[Any]:
    steps = tuple(Step(f"Step {i}", f"Does {i}.", a) for i, a in enumerate(actions, 1))
    return Flow(name="t", title="Test", steps=steps)


def test_a_closed_browser_is_named_as_such() -> None:
    def gone(_ctx: object) -> None:
        raise PlaywrightError("Locator.fill: Target page, context or browser has been closed")

    with pytest.raises(SiteError) as err:
        run_flow(make_flow(gone), None, reporter=Reporter(io.StringIO()))
    assert str(err.value) == (
        "Step 1 (Step 1) failed: the browser closed (Chromium crashed or was killed)"
    )


@dataclass
class Ctx:
    password: str = "pw"
    logged_in: bool = True
    saved_session: bool = True
    session_renewed: bool = False
    log: list[str] = field(default_factory=list)


def test_a_session_ended_midway_means_log_in_again_and_start_over() -> None:
    ended = [True]

    def act(ctx: Ctx) -> None:
        ctx.log.append(f"act, saved session {ctx.saved_session}")
        if ended.pop() if ended else False:
            raise SessionEnded("HTX ended the session at Send")

    out = io.StringIO()
    ctx = Ctx()
    login = make_flow(lambda c: c.log.append("login"))
    run_signed_in(make_flow(act), ctx, reporter=Reporter(out), login=login)
    assert ctx.log == ["act, saved session True", "login", "act, saved session False"]
    assert ctx.session_renewed and not ctx.logged_in
    assert "HTX ended the session at Send; logging in again and starting over" in out.getvalue()


def test_without_a_password_a_session_ended_midway_stops_the_run() -> None:
    def act(_ctx: Ctx) -> None:
        raise SessionEnded("HTX ended the session at Send")

    with pytest.raises(SessionEnded):
        run_signed_in(make_flow(act), Ctx(password=""), reporter=Reporter(io.StringIO()))


def test_a_second_session_end_is_not_started_over_again() -> None:
    def act(_ctx: Ctx) -> None:
        raise SessionEnded("HTX ended the session at Confirm")

    with pytest.raises(SessionEnded):
        run_signed_in(make_flow(act), Ctx(), reporter=Reporter(io.StringIO()))
