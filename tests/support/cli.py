"""Run the real `htx-keys` command in a subprocess, as a user or a CI job would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


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
