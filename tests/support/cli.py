"""Run the real `htx-keys` command in a subprocess, as a user or a CI job would."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def htx_keys_command() -> list[str]:
    script = Path(sys.executable).parent / "htx-keys"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "htx_keys"]


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def explain(self) -> str:
        return f"htx-keys {' '.join(self.args)} -> {self.returncode}\n{self.stderr}\n{self.stdout}"


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 240) -> Run:
    """Secrets go in `env`, never in `args` (argv is visible to every user in ps)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    full_env.update(env)
    started = time.monotonic()
    proc = subprocess.run(
        [*htx_keys_command(), *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Run(args, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def start_cli(
    args: list[str], env: dict[str, str], cwd: Path, stdin: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """`htx-keys` started, not waited for; stdout and stderr are pipes."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HTX_")}
    full_env.update(env)
    return subprocess.Popen(
        [*htx_keys_command(), *args],
        env=full_env,
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Background:
    """`htx-keys` running in the background, its output read as it comes: for tests that
    stop it (SIGTERM) at a chosen moment."""

    def __init__(
        self, args: list[str], env: dict[str, str], cwd: Path, stdin: int = subprocess.DEVNULL
    ) -> None:
        self.args = args
        self.started = time.monotonic()
        self.proc = start_cli(args, env, cwd, stdin=stdin)
        self.out: list[str] = []
        self.err: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], into: list[str]) -> None:
        for line in stream:
            into.append(line)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        """Until a stderr line contains `text`; fails if the command ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.err):
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the readers drain
                if any(text in line for line in self.err):
                    return
                raise AssertionError(
                    f"ended ({self.proc.returncode}) before {text!r}:\n" + "".join(self.err)
                )
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "".join(self.err))

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 180) -> Run:
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        return Run(
            self.args, code, "".join(self.out), "".join(self.err), time.monotonic() - self.started
        )


def run_cli_on_terminal(
    args: list[str], env: dict[str, str], cwd: Path, cue: str, answer: str,
    timeout: float = 240,
) -> Run:  # fmt: skip
    """`htx-keys ARGS` with a terminal for stdin (stdout and stderr stay pipes): once a stderr
    line contains `cue` (a prompt has no line end to wait for; the line before it does),
    `answer` is typed, and the terminal holds it until the command reads it."""
    master, slave = pty.openpty()
    try:
        proc = Background(args, env, cwd, stdin=slave)
        os.close(slave)
        proc.wait_for(cue, timeout=timeout)
        os.write(master, f"{answer}\n".encode())
        return proc.finish(timeout=timeout)
    finally:
        os.close(master)


@dataclass
class Invoked:
    """What `htx-keys ARGS` did when run in this process through `main()`, the way the
    console script runs it: exit status, stdout, stderr."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams, for assertion messages."""
        return f"exit {self.exit_code}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    @property
    def error(self) -> str:
        """The message of the `htx-keys: error: ...` line ("" when there is none)."""
        prefix = "htx-keys: error: "
        lines = [line for line in self.stderr.splitlines() if line.startswith(prefix)]
        return lines[0].removeprefix(prefix) if lines else ""


def invoke(args: list[str], env: dict[str, str] | None = None, input: str | None = None) -> Invoked:
    """Run `htx-keys ARGS` in this process (monkeypatched fakes stay in force), with its own
    stdin, stdout, stderr and environment changes, through the same `main()` and exit mapping
    as the installed command."""
    from click.testing import CliRunner

    from htx_keys.cli import main

    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _mixed):
        code = main(list(args))
    return Invoked(code, out.getvalue().decode(), err.getvalue().decode())
