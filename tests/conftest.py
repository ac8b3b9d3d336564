"""The order the suite runs in: the costliest test modules first.

The suite runs on several workers with `--dist loadfile` (scripts/test.sh): a module stays on
one worker, and the workers take modules in collection order as they free up. A minute-long
module collected last keeps one worker busy while the others have finished, so modules carry
`pytest.mark.cost(seconds)` (roughly what the module takes on a busy two-core machine) and
are collected costliest first; unmarked modules (unit tests: seconds each) follow and fill the
gaps. Within a module the order stays as written.
"""

from __future__ import annotations

import pytest


def module_cost(item: pytest.Item) -> float:
    marker = item.get_closest_marker("cost")
    return float(marker.args[0]) if marker is not None and marker.args else 0.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # sorted() is stable: tests of one module keep their order, and the order is the same on
    # every worker (xdist checks that all workers collected the same list).
    items[:] = sorted(items, key=lambda item: -module_cost(item))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The fault matrix's table (tests/e2e/test_fault_matrix.py): rows travel in the reports,
    # so the main process prints them under xdist too.
    from tests.support.fault_matrix import summary

    summary(terminalreporter)
