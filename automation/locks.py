"""One lock across processes, on POSIX and Windows alike: a lock file held exclusively.

Several htx-keys runs may work at once (CI jobs on one runner, a person and a cron job) and
share files: the keyring store's index, the JSON and .env stores, the GA ledger in the state
dir, the accounts file. Every read-modify-write of such a file happens inside `file_lock`.

* The lock is held on a lock file of its own that is never replaced: the files it guards are
  replaced atomically (automation/files.py), and a lock on a replaced file excludes nobody.
* POSIX: flock(2) on the open file; Windows: msvcrt.locking on its first byte. Either belongs
  to the open file, so two threads of one process exclude each other as two processes do, and
  either ends with the process: a run that crashed leaves no stale lock behind.
* Waiting is bounded: after `timeout` seconds a one-line error names the lock file.
* Not re-entrant: whoever holds a lock must not ask for it again.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from automation.errors import HtxKeysError

__all__ = ["LOCK_TIMEOUT", "LockTimeout", "file_lock"]

LOCK_TIMEOUT = 10.0  # seconds; every guarded section is a few file or keyring calls
_FIRST_POLL, _MAX_POLL = 0.005, 0.05  # short waits first: most locks are held for milliseconds


class LockTimeout(HtxKeysError):
    """Another process held a lock file for longer than we wait (or it cannot be opened)."""


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 0, os.SEEK_SET)  # msvcrt locks bytes from the current position
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # a byte past the end may be locked too
        except OSError:  # EACCES / EDEADLOCK: another handle holds it
            return False
        return True

    def _unlock(fd: int) -> None:
        # Windows frees a lock left at close only "eventually": give it back first.
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def file_lock(
    path: Path,
    *,
    timeout: float = LOCK_TIMEOUT,
    error: Callable[[str], HtxKeysError] = LockTimeout,
) -> Iterator[None]:
    """Hold `path` (created 0600, its directory 0700 when made here) exclusively.

    `error` builds the exception raised when the file cannot be opened or stays held past
    `timeout` seconds, so each caller fails with its own exit status (StoreError, OtpError...).
    The lock is given back however the block ends, exception or not.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise error(f"Cannot open the lock file {path}: {reason}") from None
    try:
        deadline = time.monotonic() + timeout
        pause = _FIRST_POLL
        while not _try_lock(fd):
            left = deadline - time.monotonic()
            if left <= 0:
                raise error(
                    f"Gave up after {timeout:g} s waiting for the lock file {path}: "
                    "another htx-keys run holds it"
                )
            time.sleep(min(pause, left))
            pause = min(pause * 2, _MAX_POLL)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)
