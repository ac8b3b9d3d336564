"""Unit tests on every platform (.github/workflows/platforms.yml runs them on Ubuntu, macOS and
Windows): on Windows, a test that checks POSIX file modes, runs a POSIX shell or sends POSIX
signals is skipped with the reason. Nothing here needs a Linux service: the unit tests use
fakes (keyring backends, mail servers); the end-to-end tests (tests/e2e) need Linux."""

from __future__ import annotations

import inspect
import sys

import pytest

# What in a test's own source ties it to POSIX, and why it cannot run on Windows.
POSIX_ONLY = {
    "st_mode": "checks POSIX file modes (0600/0700); Windows has ACLs instead",
    "S_IMODE": "checks POSIX file modes (0600/0700); Windows has ACLs instead",
    "/bin/sh": "runs a POSIX shell",
    "SIGHUP": "sends POSIX signals",
    "os.kill(": "sends POSIX signals",
}
# Modules about portability itself: they simulate the platforms and must run everywhere.
EVERYWHERE = ("test_platforms", "test_keyring_chunks")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if sys.platform != "win32":
        return
    for item in items:
        function = getattr(item, "function", None)
        if function is None or item.module is None or item.module.__name__.endswith(EVERYWHERE):
            continue
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        for needle, reason in POSIX_ONLY.items():
            if needle in source:
                item.add_marker(pytest.mark.skip(reason=f"POSIX only: {reason}"))
                break
