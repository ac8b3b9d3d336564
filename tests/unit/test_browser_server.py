"""Stopping the shared browser's server: one that ignores SIGTERM is killed, and so is what it
started in a process group of its own (as Playwright starts Chromium)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from automation import browser_server
from tests.support.procs import alive

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")

# A server that ignores SIGTERM, with a "browser" in a session (and process group) of its own.
STUBBORN = 'trap "" TERM; setsid sleep 300 & echo $!; wait'


def test_a_server_that_ignores_sigterm_is_killed_with_its_browser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(browser_server, "STOP_TIMEOUT_S", 0.5)
    proc = subprocess.Popen(
        ["/bin/sh", "-c", STUBBORN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    browser = int(proc.stdout.readline())
    try:
        deadline = time.monotonic() + 5
        while os.getpgid(browser) != browser and time.monotonic() < deadline:
            time.sleep(0.01)  # setsid runs in the child after `$!` is known
        assert os.getpgid(browser) == browser != proc.pid  # a group of its own
        assert browser in browser_server.descendant_groups(proc.pid)
        browser_server._stop(proc)
        assert proc.returncode is not None
        deadline = time.monotonic() + 5
        while alive(browser) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(browser)
    finally:
        if alive(browser):
            os.kill(browser, 9)


def test_descendant_groups_of_a_process_without_children_is_empty() -> None:
    with subprocess.Popen(["sleep", "5"]) as proc:
        try:
            assert browser_server.descendant_groups(proc.pid) == set()
        finally:
            proc.kill()
