"""One Chromium shared by several runs at once: a Playwright browser server on loopback.

Playwright's API is not thread-safe: a Playwright instance, and every browser, context and
page it hands out, belongs to the thread that started it (its sync API runs an event loop of
its own in that thread). So several accounts at once (`provision --accounts`) run in worker
threads that each start their own Playwright and connect (BrowserType.connect) to one browser
launched once, here: the driver's `launch-server` command, which is Playwright's
BrowserType.launchServer (not in the Python API) behind a command line. Each account gets its
own context in that browser, so nothing of one account's session is seen by another.

The server listens on 127.0.0.1 only, at a random path that acts as its password (kept out of
every message by the redactor). On POSIX it runs under a watchdog that stops it when this
process's end of a pipe closes, so a killed tool (even SIGKILL) leaves no browser behind.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from automation.browser import LAUNCH_ARGS, BrowserChoice
from automation.driver_start import with_compile_cache
from automation.errors import ConfigError
from automation.redaction import REDACTOR

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# Stops the server when stdin reaches its end: this process exited, however it ended.
WATCHDOG = 'server="$1"; shift; "$server" "$@" </dev/null & pid=$!; cat >/dev/null; kill "$pid"'


def server_config(choice: BrowserChoice, *, headed: bool, traces_dir: str) -> dict[str, Any]:
    """BrowserType.launchServer's options: the same browser and flags as a run of its own."""
    args = list(LAUNCH_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox on
    config: dict[str, Any] = {
        "headless": not headed,
        "args": args,
        "host": "127.0.0.1",
        "port": 0,
        "tracesDir": traces_dir,
    }
    executable = choice.executable_for(headed)
    if executable:
        config["executablePath"] = executable
    if choice.channel:
        config["channel"] = choice.channel
    return config


def server_command(config_path: Path) -> list[str]:
    from playwright._impl._driver import compute_driver_executable

    driver = compute_driver_executable()
    parts = list(driver) if isinstance(driver, tuple) else [str(driver)]
    command = [*map(str, parts), "launch-server", "--browser", "chromium"]
    command += ["--config", str(config_path)]
    if sys.platform == "win32":
        return command
    return ["/bin/sh", "-c", WATCHDOG, "htx-keys-browser-server", *command]


class BrowserServer:
    """The chosen Chromium behind a Playwright server: `endpoint` is its ws:// address while
    the server runs (between entering and leaving, or `stop()`, which any thread may call)."""

    def __init__(self, choice: BrowserChoice, *, headed: bool = False) -> None:
        self.choice = choice
        self.headed = headed
        self.endpoint = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> BrowserServer:
        from playwright._impl._driver import get_driver_env

        self._folder = tempfile.TemporaryDirectory(prefix="htx-keys-pw-")
        folder = Path(self._folder.name)
        traces = folder / "traces"
        traces.mkdir()
        config = server_config(self.choice, headed=self.headed, traces_dir=str(traces))
        config_path = folder / "server.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        errors = folder / "stderr"
        try:
            with errors.open("wb") as err:
                self._proc = subprocess.Popen(
                    server_command(config_path),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    env=with_compile_cache(get_driver_env()),
                    start_new_session=sys.platform != "win32",
                )
        except OSError as exc:
            self._folder.cleanup()
            raise ConfigError(f"Could not start {self.choice.description}: {exc}") from None
        try:
            self.endpoint = _read_endpoint(self._proc, self.choice, errors)
        except BaseException:
            self.stop()
            raise
        REDACTOR.add(self.endpoint.rsplit("/", 1)[-1], label="browser server path")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Close the browser and the server (every connected run then fails at its next
        step); safe to call more than once."""
        if self._proc is not None:
            _stop(self._proc)
        if self._folder is not None:
            with suppress(OSError):
                self._folder.cleanup()


@contextmanager
def browser_server(choice: BrowserChoice, *, headed: bool = False) -> Iterator[str]:
    """Launch the chosen Chromium behind a Playwright server; yield its ws:// endpoint, and
    stop the server and the browser on the way out."""
    with BrowserServer(choice, headed=headed) as server:
        yield server.endpoint


def _read_endpoint(proc: subprocess.Popen[bytes], choice: BrowserChoice, errors: Path) -> str:
    """The first line the server prints is its endpoint; anything else is a failure."""
    assert proc.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            break
        if sys.platform != "win32":
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.5))
            if not ready:
                continue
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        line += chunk
    endpoint = line.decode("utf-8", "replace").strip().splitlines()[0] if line.strip() else ""
    if endpoint.startswith("ws://"):
        return endpoint
    _stop(proc)
    detail = errors.read_text("utf-8", "replace").strip().splitlines()
    reason = detail[0] if detail else "it printed no endpoint"
    raise ConfigError(
        f"Could not start {choice.description} as a shared browser: {REDACTOR.scrub(reason)}",
        hint="check HTX_KEYS_BROWSER / --browser, --browser-channel, or run "
        "`playwright install chromium`",
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group: Playwright closes the browser gracefully. A
    server that does not end in time is killed, and so is its Chromium, which Playwright starts
    in a process group of its own (looked up before the kill: after it, Chromium's parent is
    gone and nothing ties it to the server)."""
    if proc.poll() is None:
        if sys.platform == "win32":
            proc.terminate()
        else:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            if sys.platform == "win32":
                proc.kill()  # Chromium's own job object ends it with the driver
            else:
                groups = {proc.pid, *descendant_groups(proc.pid)}
                for group in groups:
                    with suppress(ProcessLookupError, PermissionError):
                        os.killpg(group, signal.SIGKILL)
            proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with suppress(OSError):
                stream.close()


def descendant_groups(root: int) -> set[int]:
    """The process groups of every process below `root` (POSIX, from `ps`: Linux and macOS
    alike); empty when `ps` cannot tell."""
    try:
        listing = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid=,pgid="],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    children: dict[int, list[tuple[int, int]]] = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 3 and all(f.isdigit() for f in fields):
            pid, ppid, pgid = map(int, fields)
            children.setdefault(ppid, []).append((pid, pgid))
    groups, todo = set(), [root]
    while todo:
        for pid, pgid in children.get(todo.pop(), []):
            groups.add(pgid)
            todo.append(pid)
    return groups
