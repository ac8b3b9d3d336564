"""Writing files that hold secrets: atomic, private from the first byte, never half-written."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (a crash must not bring back the old file)."""
    if os.name == "nt":
        return  # Windows opens no directory as a file; its renames are journalled by NTFS
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path, data: bytes | Callable[[BinaryIO], None], *, mode: int = 0o600
) -> None:
    """Replace `path` with `data` (bytes, or a function that writes to the open file).

    The temporary file is created 0600 in the same directory, so the content is never
    readable by others, even for a moment, and readers see the old file or the new one.
    `mode` is applied before the rename (0600 unless a caller keeps a file's own mode).
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            if callable(data):
                data(out)
            else:
                out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mode != 0o600:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def private_dir(path: Path) -> bool:
    """Make `path` (and missing parents) a folder only this user can open: 0700, created so
    or tightened. True when an existing folder had to be tightened."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)
        return True
    return False
