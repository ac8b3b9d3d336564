"""Starting Playwright's driver (a Node.js process) with Node's compile cache.

Every run starts the driver, and Node compiles Playwright's JavaScript each time: about 0.65 s
of a run's start on our machines. With a compile cache (Node 22.1 and later, which Playwright
ships) it takes about 0.5 s from the second run on. The cache holds compiled code of
Playwright's own modules, never data of a run. It lives in the user's cache folder
(~/.cache/htx-keys/node-compile-cache, XDG_CACHE_HOME; ~/Library/Caches/htx-keys on macOS;
%LOCALAPPDATA%\\htx-keys\\Cache on Windows).

Only the driver gets the variable: it is set while the driver starts (the driver copies the
environment then) and taken away after, so a command `exec` runs never sees it. A
NODE_COMPILE_CACHE of the user's is left alone, and NODE_DISABLE_COMPILE_CACHE=1 turns the
cache off as Node documents.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from automation.platform_dirs import APP_NAME

VARIABLE = "NODE_COMPILE_CACHE"
_LOCK = threading.Lock()  # worker threads start their drivers at once (provision --accounts)
_starting = 0  # drivers starting now
_ours = False  # whether the variable in os.environ is the one set here


def cache_dir(environ: Mapping[str, str]) -> Path:
    """Where the driver's compile cache goes, by the platform's convention for caches."""
    if environ.get("XDG_CACHE_HOME"):
        base = Path(environ["XDG_CACHE_HOME"]) / APP_NAME
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / APP_NAME
    elif sys.platform == "win32" and environ.get("LOCALAPPDATA"):
        base = Path(environ["LOCALAPPDATA"]) / APP_NAME / "Cache"
    else:
        base = Path.home() / ".cache" / APP_NAME
    return base / "node-compile-cache"


def with_compile_cache(env: dict[str, str]) -> dict[str, str]:
    """`env` (a driver's environment) with the compile cache, unless it names one already."""
    if not env.get(VARIABLE):
        env[VARIABLE] = str(cache_dir(env))
    return env


@contextmanager
def compile_cache() -> Iterator[None]:
    """Around the start of drivers: the variable is in this process's environment only while
    one starts (several threads may start theirs at once)."""
    global _starting, _ours
    with _LOCK:
        if _starting == 0:
            _ours = not os.environ.get(VARIABLE)
            if _ours:
                os.environ[VARIABLE] = str(cache_dir(os.environ))
        _starting += 1
    try:
        yield
    finally:
        with _LOCK:
            _starting -= 1
            if _starting == 0 and _ours:
                os.environ.pop(VARIABLE, None)
                _ours = False


@contextmanager
def started_playwright() -> Iterator[Any]:
    """sync_playwright(), its driver started with the compile cache."""
    from playwright.sync_api import sync_playwright

    with ExitStack() as stack:
        with compile_cache():
            playwright = stack.enter_context(sync_playwright())
        yield playwright
