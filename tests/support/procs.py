"""Processes a fault test kills: the tool's Chromium, the IMAP process serving a mailbox.

Read from /proc (Linux), so a test names exactly the processes it means, by their pid: never
by a broad name, which would reach other tests' browsers on the same machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses; split after the last ")".
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> list[int]:
    """Every process below `root`, parents before their children."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in sorted(children.get(todo.pop(0), [])):
            found.append(child)
            todo.append(child)
    return found


def browser_of(root: int) -> int | None:
    """The main Chromium process under `root` (its helpers carry --type=)."""
    for pid in descendants(root):
        line = cmdline(pid)
        if ("chrom" in line or "headless_shell" in line) and "--type=" not in line:
            return pid
    return None


def kill(pids: list[int], signum: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie (ended, not yet reaped by its new parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())
