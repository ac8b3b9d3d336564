"""Browsers for tests: the `browser` and `page` fixtures for tests that drive pages by hand
(a pytest plugin: tests/e2e/conftest.py imports them), and a virtual screen (Xvfb) and a
Chromium reachable over CDP, for tests that need a person's browser window or a remote one."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from automation.browser import LAUNCH_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = "/usr/lib/chromium/chromium"
# Chromium's headless build (Debian's chromium-headless-shell): what the tool runs headless,
# and about half the CPU of a full Chromium per page; the `browser` fixture uses it too.
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
VIEWPORT = {"width": 1280, "height": 800}
# Long enough for the sandbox's page latency on a loaded machine; short enough that a locator
# that will never match fails the test well before pytest's own timeout.
PAGE_TIMEOUT_MS = 15_000


def need(binary: str) -> str:
    path = shutil.which(binary) or (binary if os.path.exists(binary) else None)
    if path is None:
        if os.environ.get("HTX_KEYS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{binary} is not installed: run scripts/setup-system.sh --test")
        pytest.skip(f"{binary} is not installed")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium per test module (a launch costs a second on a busy machine); each
    test gets a fresh context from `page`. Per module, not per session: Playwright's sync API
    runs one instance per thread, and a module that runs the tool in-process starts its own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # traces_dir: else Playwright leaves an empty /tmp/playwright-tracing-* per launch.
        launched = p.chromium.launch(
            executable_path=need(HEADLESS_SHELL),
            args=["--no-sandbox", *LAUNCH_ARGS],
            traces_dir=tmp_path_factory.mktemp("traces"),
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a context of its own: no cookie, storage or device id from another test."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@contextmanager
def xvfb() -> Iterator[str]:
    """A private X display; yields its name (":N"). Parallel test workers may race for a
    number: Xvfb refuses one that is taken, and the next is tried."""
    binary = need("Xvfb")
    for number in range(90 + os.getpid() % 50, 200):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        proc = subprocess.Popen(
            [binary, f":{number}", "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        if proc.poll() is not None:
            continue  # taken by another worker meanwhile
        try:
            yield f":{number}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        return
    raise AssertionError("no free X display number")


@contextmanager
def chromium_over_cdp(display: str | None = None) -> Iterator[str]:
    """A Chromium with its DevTools endpoint on loopback; headed when given a display."""
    binary = need(CHROMIUM)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="htx-keys-cdp-") as profile:
        args = [
            binary,
            f"--remote-debugging-port={port}",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={profile}",
            "--no-sandbox",
            "--no-first-run",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ]
        env = dict(os.environ)
        if display:
            env["DISPLAY"] = display
        else:
            args.append("--headless")
        # A session of its own: Chromium's helpers (zygote, crashpad) outlive the browser
        # process for a moment and still write to the profile; they are stopped with it.
        proc = subprocess.Popen(
            [*args, "about:blank"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"{endpoint}/json/version", timeout=1) as answer:
                        json.load(answer)
                    break
                except OSError:
                    assert proc.poll() is None, "Chromium exited"
                    assert time.monotonic() < deadline, "Chromium's DevTools never answered"
                    time.sleep(0.1)
            yield endpoint
        finally:
            stop(proc)
            stop_group(proc.pid)


SERVER_SCRIPT = """
const playwright = require(process.argv[1]);
playwright.chromium
  .launchServer({executablePath: process.argv[2], host: "127.0.0.1", port: 0,
                 args: ["--no-sandbox", "--disable-dev-shm-usage"]})
  .then((server) => {
    console.log(server.wsEndpoint());
    const stop = () => server.close().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
"""


@contextmanager
def playwright_server() -> Iterator[str]:
    """A Playwright browser server (what `playwright launch-server` and Browserless offer),
    started with the Node.js and playwright-core that ship inside the playwright package and
    the system Chromium; yields its ws:// endpoint."""
    import playwright

    driver = Path(playwright.__file__).parent / "driver"
    proc = subprocess.Popen(
        [str(driver / "node"), "-e", SERVER_SCRIPT, str(driver / "package"), need(CHROMIUM)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        assert endpoint.startswith("ws://127.0.0.1:"), f"no endpoint (exit {proc.poll()})"
        yield endpoint
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_group(group: int, wait_s: float = 5.0) -> None:
    """Kill what is left of a process group and wait until none of it is alive."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
