"""The driver's compile cache: where it goes, and that only the driver's start sees it."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from automation import driver_start
from automation.driver_start import VARIABLE, cache_dir, compile_cache, with_compile_cache


def test_the_cache_goes_in_the_platforms_cache_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "home", lambda: Path("/home/u"))
    assert cache_dir({"XDG_CACHE_HOME": "/x"}) == Path("/x/htx-keys/node-compile-cache")
    monkeypatch.setattr(sys, "platform", "linux")
    assert cache_dir({}) == Path("/home/u/.cache/htx-keys/node-compile-cache")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cache_dir({}) == Path("/home/u/Library/Caches/htx-keys/node-compile-cache")
    monkeypatch.setattr(sys, "platform", "win32")
    assert cache_dir({"LOCALAPPDATA": "/l"}) == Path("/l/htx-keys/Cache/node-compile-cache")


def test_a_drivers_environment_gets_the_cache_unless_it_names_one() -> None:
    env = {"XDG_CACHE_HOME": "/x"}
    assert with_compile_cache(env)[VARIABLE] == "/x/htx-keys/node-compile-cache"
    assert with_compile_cache({VARIABLE: "/mine"})[VARIABLE] == "/mine"


def test_the_variable_is_there_only_while_drivers_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    inside, release = threading.Event(), threading.Event()

    def other_start() -> None:
        with compile_cache():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other_start)
    thread.start()
    inside.wait(5)
    with compile_cache():  # a second thread starts its driver meanwhile
        assert os.environ[VARIABLE] == str(cache_dir(os.environ))
    assert VARIABLE in os.environ  # the first is still starting
    release.set()
    thread.join()
    assert VARIABLE not in os.environ
    assert driver_start._starting == 0


def test_a_users_own_setting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "/mine")
    with compile_cache():
        assert os.environ[VARIABLE] == "/mine"
    assert os.environ[VARIABLE] == "/mine"
