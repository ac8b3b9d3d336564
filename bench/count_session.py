"""N keys in one browser session (`provision --count N`) against N separate `provision` runs
(the baseline), same run, against the sandbox with its embedded mail server.

Separate runs log in N times (a GA code each) and open N browsers; one session logs in once.
Every create still needs its own fresh GA code, so both wait on 30 s windows: the bench
prints wall time, the waits HTX's timers impose, the work without them, and the ratios of the
session's figures to the baseline's. Run: .venv/bin/python bench/count_session.py [N]
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from automation.runner import Reporter
from automation.store import open_store
from flows.htx.limits import check_request
from htx_keys.app.preflight import RunOptions, prepare
from htx_keys.app.provisioning import provision
from htx_keys.app.replica import demo_site
from htx_keys.app.web_session import web_session


def run(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, demo_site(Reporter(quiet=True)) as site:
        settings = dataclasses.replace(site, state_dir=Path(tmp) / "state")
        store = open_store(f"json:{Path(tmp) / 'keys.json'}")
        options = RunOptions(verify=False)

        reporter = Reporter(quiet=True)
        started = time.monotonic()
        for n in range(count):
            request = check_request(f"bench separate {n}", ["trade"], [], tag="htx-keys")
            provision(prepare(settings, request, store, options), options, reporter)
        separate = (time.monotonic() - started, reporter.waited)

        reporter = Reporter(quiet=True)
        request = check_request("bench session", ["trade"], [], tag="htx-keys")
        started = time.monotonic()
        with web_session(prepare(settings, None, None, options), options, reporter) as session:
            for _ in range(count):
                session.create(request, store)
        together = (time.monotonic() - started, reporter.waited)
    report(f"{count} separate runs (baseline)", separate)
    report(f"{count} in one session", together)
    print(f"ratio session/separate, wall time: {together[0] / separate[0]:.3f}")
    work_s, work_t = separate[0] - separate[1], together[0] - together[1]
    print(f"ratio session/separate, work without timer waits: {work_t / work_s:.3f}")


def report(name: str, sample: tuple[float, float]) -> None:
    wall, waited = sample
    work = wall - waited
    print(f"{name:<28} wall {wall:6.1f} s  timer waits {waited:6.1f} s  work {work:6.1f} s")


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
