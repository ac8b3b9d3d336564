"""A hang-up (SIGHUP: the terminal or SSH session closed) ends `exec`'s command and every other
command the careful way, as SIGTERM does; under `nohup` it stays ignored. Real processes and
signals; the end-to-end run that revokes the key is in tests/e2e/test_exec_hangup.py."""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from automation.runner import Reporter
from automation.store import KeyRecord
from htx_keys import cli
from htx_keys.app.exec import passed_on, run_child

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP (Windows)")

# The command hangs up on its parent (`exec`), then would run on for a while.
HANG_UP_ON_PARENT = "import os, signal, time; os.kill(os.getppid(), signal.SIGHUP); time.sleep(5)"


def record() -> KeyRecord:
    return KeyRecord(
        access_key="AK",
        secret_key="S" * 32,
        account="me@example.test",
        note="n",
        permissions=["read"],
        ip_addresses=[],
        created_at="2026-11-21T10:00:00Z",
        expires_at=None,
        site="https://www.htx.com",
    )


def web_run() -> Any:
    return SimpleNamespace(reporter=Reporter(io.StringIO()))


@dataclass
class Caught:
    handler: Callable[[int, object], None]
    got: list[int]


@pytest.fixture
def caught() -> Iterator[Caught]:
    """SIGHUP caught by the test while it runs, rather than ending pytest; both handlers as
    they were afterwards."""
    got: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda signum, _frame: got.append(signum))
    term = signal.getsignal(signal.SIGTERM)
    try:
        yield Caught(signal.getsignal(signal.SIGHUP), got)  # type: ignore[arg-type]
    finally:
        signal.signal(signal.SIGHUP, previous)
        signal.signal(signal.SIGTERM, term)


def test_a_hang_up_is_passed_on_to_the_command(caught: Caught) -> None:
    run = web_run()
    status = run_child([sys.executable, "-c", HANG_UP_ON_PARENT], record(), run)
    assert status == 128 + signal.SIGHUP
    progress = run.reporter.stream.getvalue()
    assert "SIGHUP: passing it on; the key is revoked once the command ends" in progress
    assert f"exited with status {128 + signal.SIGHUP}" in progress
    assert caught.got == []  # exec's own handler took it...
    assert signal.getsignal(signal.SIGHUP) is caught.handler  # ...and put the previous back


def test_under_nohup_a_hang_up_stays_ignored(caught: Caught) -> None:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    assert passed_on() == [signal.SIGTERM]
    run = web_run()
    hang_up = "import os, signal; os.kill(os.getppid(), signal.SIGHUP)"
    assert run_child([sys.executable, "-c", hang_up], record(), run) == 0
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    assert "SIGHUP" not in run.reporter.stream.getvalue()


def test_every_command_takes_a_hang_up_like_sigterm(caught: Caught) -> None:
    """main() turns both into the careful way out (KeyboardInterrupt: a key being stored is
    rescued, one `exec` made is revoked)."""
    cli.install_signal_handlers()
    assert signal.getsignal(signal.SIGHUP) is cli._terminate
    assert signal.getsignal(signal.SIGTERM) is cli._terminate
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGHUP)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup htx-keys ...
    cli.install_signal_handlers()
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
