"""Reading a project's file without following a link, blocking on a FIFO or loading a huge generated file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_SOURCE_BYTES", "read_source"]

MAX_SOURCE_BYTES = 2_000_000


def read_source(path: Path, max_bytes: int = MAX_SOURCE_BYTES) -> bytes:
    """The file's bytes; OSError saying why when it is a link, not a regular file, or over `max_bytes`.

    The checks are made on the opened descriptor, so the file read is the file checked: opening a FIFO
    without O_NONBLOCK would wait for a writer, and a path checked before a later open can be swapped."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a regular file")
        if info.st_size > max_bytes:
            raise OSError(
                f"{info.st_size} bytes, over the {max_bytes} a source file may have (likely generated)"
            )
        with os.fdopen(fd, "rb", closefd=True) as file:
            fd = -1
            return file.read(max_bytes)
    finally:
        if fd >= 0:
            os.close(fd)
