"""A real driver start fills the compile cache, and leaves the environment as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from automation.driver_start import VARIABLE, started_playwright

pytestmark = [pytest.mark.e2e, pytest.mark.cost(3)]


def test_the_driver_writes_its_compile_cache_and_the_variable_goes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with started_playwright() as playwright:
        assert VARIABLE not in os.environ
        assert playwright.chromium.name == "chromium"
    cache = tmp_path / "htx-keys" / "node-compile-cache"
    assert cache.is_dir() and any(path.is_file() for path in cache.rglob("*"))
