"""The embedded IMAP server behind ``htx-keys sandbox`` and ``htx-keys demo``.

pymap (pure Python, from PyPI) serves an in-memory mailbox with IDLE and STARTTLS, so a demo needs
no mail server installed. It runs in a child process: its asyncio loop, signal handlers and logging
stay out of ours, and stop() really frees the port.

How it is kept tidy:

* The password never appears on the command line (``ps`` shows argv to every user). pymap reads
  ``@file`` argument files and substitutes ``$VARS`` from its environment in them, so the file
  says ``$HTX_KEYS_PYMAP_PASSWORD`` and only the child's environment holds the value.
* Only the IMAP service runs (``--no-service`` for the others): with ``pymap[admin]`` installed
  the admin service would otherwise open a socket under /tmp/pymap, and ``pymap[sieve]`` a
  ManageSieve port. ``TMPDIR`` points into the work directory for anything else (a PID file
  when the optional ``pid`` package is present).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO
from urllib.parse import quote

from automation.errors import MailError
from automation.mail_settings import MailSettings
from sandbox.certs import TlsFiles, make_test_ca

__all__ = ["EmbeddedImap"]

PASSWORD_ENV = "HTX_KEYS_PYMAP_PASSWORD"
# pymap has no __main__ module; this runs its console-script entry point in our interpreter.
_LAUNCH = "import sys; sys.argv[0] = 'pymap'; from pymap.main import main; main()"
# Services other than IMAP that pymap plug-ins may add; none is wanted here.
_OTHER_SERVICES = ("admin", "managesieve", "swim")


class EmbeddedImap:
    """pymap's in-memory ("dict") backend with demo data, over STARTTLS on a loopback port."""

    def __init__(
        self,
        workdir: Path,
        user: str = "demo",
        password: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not user or user[0] in "@-" or "\n" in user or "\n" in (password or ""):
            # pymap would read "@name" as an argument file and "-x" as an option.
            raise ValueError("the user must not start with '@' or '-'; no newlines in credentials")
        self.workdir = Path(workdir)
        self._user = user
        # Hex: a made-up password must never start with "-", which pymap would read as an option.
        self._password = password if password is not None else secrets.token_hex(18)
        self._host = host
        self._wanted_port = port
        self._port = port
        self._tls: TlsFiles | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- what clients need -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        return self._port

    @property
    def user(self) -> str:
        return self._user

    @property
    def password(self) -> str:
        return self._password

    @property
    def ca_file(self) -> Path:
        if self._tls is None:
            raise RuntimeError("start() the server first: the CA is made then")
        return self._tls.ca_file

    @property
    def log_path(self) -> Path:
        return self.workdir / "pymap.log"

    def delivery_url(self) -> str:
        """Where the sandbox's mailer APPENDs verification mail, credentials included."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        user, password = quote(self._user, safe=""), quote(self._password, safe="")
        return f"imap+starttls://{user}:{password}@{host}:{self._port}/INBOX"

    def settings(self, **changes: object) -> MailSettings:
        """MailSettings for reading this mailbox with automation.mail."""
        values: dict[str, object] = {
            "host": self._host,
            "port": self._port,
            "user": self._user,
            "password": self._password,
            "security": "starttls",
            "ca_file": self.ca_file,
        }
        values.update(changes)
        return MailSettings(**values)  # type: ignore[arg-type]

    # -- life cycle -------------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        hosts = ["localhost", "127.0.0.1"]
        if self._host not in hosts:
            hosts.append(self._host)
        self._tls = make_test_ca(self.workdir / "tls", hosts)
        args_file = self.workdir / "pymap.args"
        # One argument per line; pymap fills in $VARS from its environment.
        args_file.write_text(f"--demo-password\n${PASSWORD_ENV}\n", encoding="utf-8")
        tmp = self.workdir / "tmp"
        tmp.mkdir(exist_ok=True, mode=0o700)
        env = {**os.environ, PASSWORD_ENV: self._password, "TMPDIR": str(tmp)}
        error = ""
        for _ in range(3 if self._wanted_port == 0 else 1):  # a free port can be taken meanwhile
            self._port = self._wanted_port or _free_port(self._host)
            self._spawn(args_file, env)
            try:
                self._wait_for_greeting(timeout)
                return
            except MailError as exc:
                error = str(exc)
                self.stop()
        raise MailError(f"The embedded IMAP server (pymap) did not start: {error}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # pymap cancels its loop and closes the port
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    if sys.platform == "win32":
                        proc.kill()  # TerminateProcess: pymap starts no children of its own
                    else:
                        os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> EmbeddedImap:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- internals --------------------------------------------------------------------------------

    def _spawn(self, args_file: Path, env: dict[str, str]) -> None:
        assert self._tls is not None
        command = [sys.executable, "-c", _LAUNCH]
        for service in _OTHER_SERVICES:
            command += ["--no-service", service]
        command += [
            "--host", self._host,
            "--port", str(self._port),
            "--cert", str(self._tls.cert_file),
            "--key", str(self._tls.key_file),
            "dict", "--demo-data", "--demo-user", self._user,
            f"@{args_file}",
        ]  # fmt: skip
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Ctrl-C in a demo reaches us, and we stop pymap in order: its own session on
            # POSIX, its own process group (no console Ctrl-C) on Windows.
            start_new_session=sys.platform != "win32",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
        )

    def _wait_for_greeting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise MailError(f"it exited with status {self._proc.returncode}: {self._tail()}")
            # An open port is not enough: the greeting says the server is serving IMAP.
            if _greets(self._host, self._port):
                return
            time.sleep(0.05)
        raise MailError(f"no IMAP greeting on {self._host}:{self._port} in {timeout:g} s")

    def _tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no output)"
        lines = [line for line in text.splitlines() if line.strip()]
        return lines[-1][:300] if lines else "(no output)"


def _greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            return sock.recv(256).startswith(b"* OK")
    except OSError:
        return False


def _free_port(host: str) -> int:
    family, _, _, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind(address)
        return int(sock.getsockname()[1])
