"""Browser provisioning (the baseline) against sub-user provisioning over REST, same run.

Both run against the sandbox with its embedded mail server, in this process. For each path it
prints the wall time, the part spent waiting on HTX's timers (a fresh Google Authenticator
window: each code works once), the work itself (wall minus waits), and the ratio of the REST
path's work to the browser path's. Run: .venv/bin/python bench/provision_paths.py [ROUNDS]
"""

from __future__ import annotations

import dataclasses
import statistics
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
from htx_keys.app.subuser import provision_sub_user
from sandbox.accounts import demo_account


def run(rounds: int) -> None:
    browser: list[tuple[float, float]] = []
    rest: list[tuple[float, float]] = []
    sub_uid = demo_account().sub_uids[0]  # the demo account's sub-users are fixed
    with tempfile.TemporaryDirectory() as tmp, demo_site(Reporter(quiet=True)) as site:
        settings = dataclasses.replace(site, state_dir=Path(tmp) / "state")
        store = open_store(f"json:{Path(tmp) / 'keys.json'}")
        for n in range(rounds):
            reporter = Reporter(quiet=True)
            request = check_request(f"bench parent {n}", ["trade"], [])
            started = time.monotonic()
            result = provision(prepare(settings, request, store), RunOptions(), reporter)
            browser.append((time.monotonic() - started, reporter.waited))

            reporter = Reporter(quiet=True)
            request = check_request(f"bench sub {n}", ["trade"], [])
            started = time.monotonic()
            provision_sub_user(settings, request, store, result.record, sub_uid, reporter)
            rest.append((time.monotonic() - started, reporter.waited))
    report("browser (baseline)", browser)
    report("REST sub-user", rest)
    work_b = statistics.median(w - g for w, g in browser)
    work_r = statistics.median(w - g for w, g in rest)
    print(f"ratio REST/browser, work without timer waits: {work_r / work_b:.3f}")
    wall_b = statistics.median(w for w, _ in browser)
    wall_r = statistics.median(w for w, _ in rest)
    print(f"ratio REST/browser, wall time: {wall_r / wall_b:.3f}")


def report(name: str, samples: list[tuple[float, float]]) -> None:
    walls = [w for w, _ in samples]
    waits = [g for _, g in samples]
    works = [w - g for w, g in samples]
    print(
        f"{name:<20} wall {statistics.median(walls):6.2f} s  "
        f"GA wait {statistics.median(waits):6.2f} s  "
        f"work {statistics.median(works):6.2f} s  (median of {len(samples)})"
    )


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
