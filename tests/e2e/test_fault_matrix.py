"""The fault matrix: the real tool against a replica that misbehaves, one fault per case.

Each case switches a fault on the replica (over HTTP, through its loopback-only controls,
sandbox/control.py) or does something to the run while it goes (kills Chromium, the tool, or
the IMAP connection), runs `htx-keys` in a subprocess, and then checks what matters whatever
failed: the run ended as it should (success, or one `htx-keys: error:` line with its class's
exit status, never a traceback); every key on the replica is either in the store or listed by
`htx-keys keys reconcile` (no secret shown is lost without a trace); and no fault made the
tool ask for a key twice. The cases are printed as a table at the end of the run (tests/
support/fault_matrix.py, from tests/conftest.py).

Every case starts with one key made earlier and held in the store (so `keys reconcile` can
read the list over REST, without a browser) and with the session `htx-keys login` would have
saved, so no login GA code is spent; waits are short where waiting is the point. A case mostly
waits (on mail, a GA window, a slow answer), so a module fixture plays the selected cases a
few at a time, each with its own site, account, mailbox, store and state dir; each case's test
then checks what came of it.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import Background, Run, run_cli
from tests.support.dovecot import Dovecot
from tests.support.fault_matrix import PROPERTY, Row
from tests.support.keys import assert_no_secrets, on_exchange, saved_session, seed_key, stored
from tests.support.procs import browser_of, descendants, kill
from tests.support.site import Site, new_site

pytestmark = [pytest.mark.e2e, pytest.mark.cost(240)]

NOTE = "matrix"
TAGGED = f"{NOTE} [htx-keys]"
CONCURRENT = 3  # cases played at once
MAIL_TIMEOUT = "4"  # seconds: where the mail never comes in time, the tool gives up quickly


@dataclass
class Scene:
    """What a case's action during the run can reach."""

    site: Site
    run: Background


@dataclass(frozen=True)
class Case:
    name: str  # the fault, as the table shows it
    status: int  # the exit status expected (-9: the tool was killed)
    error: str = ""  # the start of the one `htx-keys: error:` line ("" on success)
    faults: dict[str, Any] = field(default_factory=dict)
    command: tuple[str, ...] = ("provision", "--note", NOTE, "-p", "trade", "--ip", "127.0.0.1")
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    during: Callable[[Scene], None] | None = None  # done to the run while it goes
    made: int = 0  # keys the run leaves on the replica beyond the one held before
    deleted: int = 0  # keys the run deletes
    stderr: str = ""  # a progress line that shows the tool handled the fault as it should
    # A picture of a failed step is the default; here only where it is part of the fault (a
    # browser gone): elsewhere it would only cost the leak check's OCR time.
    screenshot: bool = False


def wait_until(what: str, check: Callable[[], object], run: Background, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s:\n" + "".join(run.err))
        if run.proc.poll() is not None:
            raise AssertionError(f"the run ended before {what}:\n" + "".join(run.err))
        time.sleep(0.05)


def reset_imap_in_idle(scene: Scene) -> None:
    """Dovecot's process for the tool's IDLE connection dies: the connection is cut."""
    dovecot, user = scene.site.dovecot, scene.site.imap_user
    wait_until("IMAP IDLE", lambda: dovecot.imap_processes(user, "IDLE"), scene.run, 120)
    kill(dovecot.imap_processes(user, "IDLE"))


def kill_chromium_waiting_for_mail(scene: Scene) -> None:
    scene.run.wait_for("[9/11] Enter the codes and confirm", timeout=120)  # reading the mail
    browser = browser_of(scene.run.proc.pid)
    assert browser is not None, "no Chromium under the tool"
    kill([browser])


def kill_tool_after_confirm(scene: Scene) -> None:
    """SIGKILL while the replica holds back its answer to Confirm (slow_calls): the key is made,
    and its secret never read."""
    state = scene.site.server.state
    wait_until("Confirm", lambda: state.calls["confirm"], scene.run, 120)
    below = descendants(scene.run.proc.pid)
    scene.run.signal(signal.SIGKILL)
    time.sleep(1.0)  # Playwright's driver ends with its parent and closes Chromium; else:
    kill(below)


BUSY = "System busy, please try again later"
CREATE_CALL = "HTTP 500 to POST /-/x/web/apikey/create"
CASES = [
    Case(
        "5xx on create (the form check)",
        5,
        f"HTX could not check the form: {BUSY}",
        {"fail_call": "create"},
        stderr="trying again in 2 s",
    ),
    Case(
        "5xx on send, once",
        0,
        faults={"fail_call": "send", "fail_times": 1},
        made=1,
        stderr="trying again in 2 s",
    ),
    Case(
        "5xx on confirm",
        5,
        f"HTX answered {CREATE_CALL} to Confirm ({BUSY}); no key was made",
        {"fail_call": "confirm"},
    ),
    Case(
        "5xx on confirm, key made anyway",
        5,
        f"HTX answered {CREATE_CALL} to Confirm ({BUSY}) but made key ",
        {"fail_call": "confirm", "fail_after_work": True},
        made=1,
    ),
    Case(
        "5xx on list",
        5,
        f"HTX did not list the keys: {BUSY}",
        {"fail_call": "list"},
        stderr="retrying (1/1)",
    ),
    Case(
        "5xx on delete",
        5,
        "HTX answered HTTP 500 to POST /-/x/web/apikey/delete to Confirm",
        {"fail_call": "delete"},
        command=("keys", "revoke", "--note", "held before"),
    ),
    Case("answers slowed to 1-3 s", 0, faults={"latency_ms": 2000}, made=1),
    Case(
        "Confirm answered after --timeout",
        5,
        "No answer within 4 s after Confirm: a key may have been created",
        {"slow_calls": {"confirm": 8.0}},
        args=("--timeout", "4"),
        made=1,
    ),
    Case(
        "mail delayed past the timeout",
        6,
        "No verification email from *@htx.com arrived in 4 s",
        {"mail_delay_s": 8.0},
        env={"HTX_MAIL_TIMEOUT": MAIL_TIMEOUT},
    ),
    Case(
        "mail dropped",
        6,
        "No verification email from *@htx.com arrived in 4 s",
        {"drop_mail": True},
        env={"HTX_MAIL_TIMEOUT": MAIL_TIMEOUT},
    ),
    Case("mail duplicated", 0, faults={"duplicate_mail": True}, made=1),
    Case("two codes (a resend)", 0, faults={"resend_mail": True}, made=1),
    Case(
        "session expired mid-flow",
        0,
        faults={"expire_session_after": "create"},
        made=1,
        stderr="logging in again",
    ),
    Case(
        "Send rate-limited",
        0,
        faults={"send_rate_limited": 1},
        made=1,
        stderr="HTX's limit on sending codes",
    ),
    Case(
        "GA code refused once",
        0,
        faults={"refuse_ga": 1},
        made=1,
        stderr="trying the next one",
    ),
    Case(
        "IMAP connection reset in IDLE",
        0,
        faults={"mail_delay_s": 6.0},  # long enough to be in IDLE when it is cut
        during=reset_imap_in_idle,
        made=1,
        stderr="reconnecting",
    ),
    Case(
        "Chromium killed mid-flow",
        5,
        "Step 9 (Enter the codes and confirm) failed: the browser closed",
        {"mail_delay_s": 4.0},
        during=kill_chromium_waiting_for_mail,
        screenshot=True,
    ),
    Case(
        "tool SIGKILLed after Confirm",
        -signal.SIGKILL,
        faults={"slow_calls": {"confirm": 3.0}},
        during=kill_tool_after_confirm,
        made=1,
    ),
]


def switch(site: Site, faults: dict[str, Any]) -> None:
    """Set faults the way a separately started sandbox takes them: JSON over loopback HTTP."""
    request = urllib.request.Request(
        f"{site.server.base_url}/-/sandbox/faults",
        data=json.dumps(faults).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        now = json.loads(answer.read())
    assert {k: now[k] for k in faults} == faults


def outcome(run: Run) -> str:
    if run.returncode == 0:
        return "done"
    if run.returncode < 0:
        return f"killed ({signal.Signals(-run.returncode).name})"
    lines = error_lines(run)
    return lines[0].removeprefix("htx-keys: error: ") if lines else "(no error line)"


def error_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("htx-keys: error: ")]


def case_id(case: Case) -> str:
    return re.sub(r"\W+", "-", case.name).strip("-")


@dataclass
class Played:
    """What came of one case: its run, the reconcile after it, and the keys on each side."""

    site: Site
    run: Run
    reconcile: Run
    held: str  # the key made (and stored) before the run
    on_site: set[str]
    held_here: set[str]
    orphans: set[str]


def play(case: Case, site: Site, workdir: Path) -> Played:
    """Run the tool under the case's fault, then `keys reconcile`, and read both sides."""
    store = workdir / "keys.json"
    held = seed_key(site, "held before [htx-keys]", store)
    env = site.env(
        HTX_KEYS_STORE=f"json:{store}",
        HTX_KEYS_SESSION=f"file:{saved_session(site, workdir / 'session.json')}",
        **case.env,
    )
    switch(site, case.faults)
    args = [*case.command, *case.args]
    if case.command[0] == "provision":
        args.append("--no-verify")  # signed calls through ccxt check the key, not the fault
    if not case.screenshot:
        args += ["--screenshot", "off"]
    if case.during is None:
        run = run_cli(args, env, cwd=workdir, timeout=240)
    else:
        background = Background(args, env, workdir)
        try:
            case.during(Scene(site, background))
        finally:
            if background.proc.poll() is None and case.status < 0:
                background.proc.kill()
            run = background.finish(timeout=240)
    switch(site, {"fail_call": "", "latency_ms": 0, "mail_delay_s": 0.0, "slow_calls": {}})
    # Right after the run, as its user would: --min-age 0, since by default a key this fresh
    # is "too new to judge" (it may be another run's, still on its way to a store).
    reconcile = run_cli(
        ["keys", "reconcile", "--min-age", "0", "--format", "json"], env, cwd=workdir
    )
    orphans = set()
    if reconcile.returncode in (0, 14):
        orphans = {k["access_key"] for k in json.loads(reconcile.stdout)}
    on_site = set(on_exchange(site))
    return Played(site, run, reconcile, held.access_key, on_site, set(stored(store)), orphans)


@pytest.fixture(scope="module")
def played(
    request: pytest.FixtureRequest, dovecot: Dovecot, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Played | BaseException]]:
    """Every case selected to run, played a few at a time: a case mostly waits (on mail, a GA
    window, a slow answer), and its own site, account, mailbox and store keep it apart."""
    ids = {
        item.callspec.id
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is request.module
    }
    selected = [case for case in CASES if case_id(case) in ids]
    with ExitStack() as stack, ThreadPoolExecutor(CONCURRENT) as pool:
        jobs = {}
        for case in selected:
            workdir = tmp_path_factory.mktemp("fault")
            site = new_site(dovecot, stack, workdir / "state")
            jobs[case.name] = pool.submit(play, case, site, workdir)
        results: dict[str, Played | BaseException] = {}
        for name, job in jobs.items():
            try:
                results[name] = job.result()
            except Exception as exc:  # a case's own machinery failed: its test says so
                results[name] = exc
        yield results


@pytest.mark.timeout(900)  # the first case's setup plays them all
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fault(
    case: Case,
    played: dict[str, Played | BaseException],
    record_property: Callable[[str, object], None],
) -> None:
    result = played[case.name]
    if isinstance(result, BaseException):
        raise result
    run, reconcile, on_site = result.run, result.reconcile, result.on_site
    orphans, held_here = result.orphans, result.held_here
    tagged = sum(k.note == TAGGED for k in on_exchange(result.site).values())
    row = Row(
        order=CASES.index(case),
        fault=case.name,
        outcome=outcome(run),
        status=run.returncode,
        on_site=len(on_site),
        stored=len(held_here & on_site),
        orphans=len(orphans),
        lost=len(on_site - held_here - orphans),
        duplicates=max(0, tagged - 1),
        seconds=run.seconds,
    )
    record_property(PROPERTY, row.to_json())

    assert run.returncode == case.status, run.explain()
    assert "Traceback" not in run.stderr, run.explain()
    lines = error_lines(run)
    if case.status > 0:
        assert len(lines) == 1 and lines[0].startswith(f"htx-keys: error: {case.error}"), (
            run.explain()
        )
    else:
        assert lines == [], run.explain()
    assert case.stderr in run.stderr, run.explain()
    # `keys reconcile` ran, and listed exactly the keys on the replica that are held nowhere.
    assert reconcile.returncode in (0, 14), reconcile.explain()
    assert (reconcile.returncode == 14) == bool(orphans), reconcile.explain()
    assert row.lost == 0 and orphans <= on_site - held_here, (on_site, held_here, orphans)
    # No fault made a second key: the run left what it was meant to, and nothing more.
    assert len(on_site) == 1 + case.made - case.deleted, run.explain()
    assert row.duplicates == 0
    assert result.held in on_site or case.deleted
    assert_no_secrets(result.site, [run, reconcile])
