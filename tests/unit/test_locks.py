"""The cross-process lock file (automation/locks.py): exclusion, timeout, release, Windows."""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import stat
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation import locks
from automation.errors import ExitStatus, OtpError, StoreError
from automation.locks import LockTimeout, file_lock


def test_the_lock_file_is_private_and_its_directory_made(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.lock"
    with file_lock(path):
        assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_bytes() == b""  # a lock file holds nothing


def test_a_held_lock_times_out_with_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    # Another open file of the same lock is as good as another process (not re-entrant).
    with file_lock(path), pytest.raises(LockTimeout) as caught, file_lock(path, timeout=0.2):
        pytest.fail("a held lock was taken twice")
    assert str(caught.value) == (
        f"Gave up after 0.2 s waiting for the lock file {path}: another htx-keys run holds it"
    )
    assert caught.value.exit_status == ExitStatus.ERROR


def test_the_caller_chooses_the_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json.lock"
    taken = file_lock(path, timeout=0.1, error=StoreError)
    expected = r"^Gave up after 0\.1 s .*keys\.json\.lock"
    with file_lock(path), pytest.raises(StoreError, match=expected), taken:
        pass
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")
    with pytest.raises(OtpError) as caught, file_lock(not_a_dir / "x.lock", error=OtpError):
        pass
    assert str(caught.value).startswith(f"Cannot open the lock file {not_a_dir / 'x.lock'}: ")
    assert caught.value.exit_status == ExitStatus.OTP


def test_released_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with pytest.raises(ValueError, match="boom"), file_lock(path):
        raise ValueError("boom")
    with file_lock(path, timeout=0):
        pass


def test_released_when_the_block_ends(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    for _ in range(3):
        with file_lock(path, timeout=0):
            pass


def test_a_waiter_gets_the_lock_once_it_is_given_back(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    ctx = multiprocessing.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(path), held, release))
    holder.start()
    try:
        assert held.wait(30), "the other process never took the lock"
        with pytest.raises(LockTimeout), file_lock(path, timeout=0.2):
            pass
        release.set()
        with file_lock(path, timeout=30):
            pass
    finally:
        release.set()
        holder.join(30)
    assert holder.exitcode == 0


def _hold(
    path: str, held: multiprocessing.synchronize.Event, release: multiprocessing.synchronize.Event
) -> None:
    with file_lock(Path(path)):
        held.set()
        release.wait(30)


def _count(path: str, rounds: int) -> None:
    counter = Path(path)
    for _ in range(rounds):
        with file_lock(counter.with_suffix(".lock"), timeout=60):
            value = int(counter.read_text())
            time.sleep(0.0005)  # widen the window a missing lock would lose updates in
            counter.write_text(str(value + 1))


def test_processes_taking_turns_lose_no_update(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_count, args=(str(counter), 40)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert counter.read_text() == "160"


# --- the Windows branch, with a stand-in for msvcrt -----------------------------------------


class FakeMsvcrt(types.ModuleType):
    """msvcrt.locking's rules: a byte range locked through one handle refuses the others."""

    LK_UNLCK, LK_NBLCK = 0, 2

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int, int], int] = {}
        self.calls: list[tuple[int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino, os.lseek(fd, 0, os.SEEK_CUR))
        self.calls.append((fd, mode))
        if mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise PermissionError(13, "Permission denied")
            del self.held[key]
        elif key in self.held:
            raise PermissionError(13, "Permission denied")
        else:
            self.held[key] = fd


@pytest.fixture
def windows_locks(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[types.ModuleType, FakeMsvcrt]]:
    """automation/locks.py loaded as Windows would load it: no fcntl, msvcrt instead."""
    fake = FakeMsvcrt()
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setitem(sys.modules, "fcntl", None)  # any `import fcntl` now fails
    spec = importlib.util.spec_from_file_location("locks_on_windows", locks.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module, fake


def test_on_windows_the_lock_is_msvcrt_s(
    windows_locks: tuple[types.ModuleType, FakeMsvcrt], tmp_path: Path
) -> None:
    module, fake = windows_locks
    path = tmp_path / "x.lock"
    second = module.file_lock(path, timeout=0.1)
    with module.file_lock(path), pytest.raises(module.LockTimeout, match=r"^Gave up"), second:
        pass
    assert fake.held == {}  # given back before the handle closed
    with pytest.raises(ValueError, match="boom"), module.file_lock(path):
        raise ValueError("boom")
    assert fake.held == {}
    with module.file_lock(path, timeout=0):
        assert len(fake.held) == 1
    modes = [mode for _fd, mode in fake.calls]
    assert modes[-2:] == [FakeMsvcrt.LK_NBLCK, FakeMsvcrt.LK_UNLCK]
