"""Run the sandbox with uvicorn in a background thread, on a port of its own choosing if asked."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType, TracebackType

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.faults import Faults
from sandbox.state import SandboxState

__all__ = ["SandboxServer"]

START_TIMEOUT_S = 15.0


class SandboxServer:
    def __init__(
        self,
        config: SandboxConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.host = host
        self.state = SandboxState(config.accounts, clock=clock, totp_step_s=config.totp_step_s)
        self.app = create_app(config, self.state)
        self._port = port
        self._sock: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._bound_port: int | None = None

    @property
    def faults(self) -> Faults:
        return self.config.faults

    @property
    def port(self) -> int:
        if self._bound_port is None:
            raise RuntimeError("the sandbox server is not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Bind, serve in a thread, and return once the server answers HTTP."""
        if self._thread is not None:
            raise RuntimeError("the sandbox server is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Binding here (not in uvicorn) is what lets port 0 work: we learn the port at once.
        sock.bind((self.host, self._port))
        self._bound_port = int(sock.getsockname()[1])
        sock.listen(128)
        sock.setblocking(False)
        self._sock = sock
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            server_header=False,
            # The client address decides IP whitelists: never take it from X-Forwarded-For.
            proxy_headers=False,
            # Stopping must not wait on a connection a browser left open.
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="sandbox-http", daemon=True)
        self._thread.start()
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # reported by start(); a thread cannot raise to its owner
            self._error = exc

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"{self.base_url}/-/health"
        while time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                raise RuntimeError(f"the sandbox server stopped while starting: {self._error!r}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"the sandbox server did not answer on {url} within {START_TIMEOUT_S:.0f} s"
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._thread = None
        self._server = None

    def serve_forever(self) -> None:
        """Block until Ctrl-C or SIGTERM, then stop cleanly (for the CLI)."""
        if self._thread is None:
            self.start()

        def on_term(_sig: int, _frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, on_term) if main else None
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            if main:
                signal.signal(signal.SIGTERM, previous)
            self.stop()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
