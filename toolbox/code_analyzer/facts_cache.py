"""What an analyser learnt from a file, kept on disk under a key made of the file's bytes, so a later analysis
of the same project skips parsing and recording it (docs/decisions/0022-analyser-cache.md).

Every entry is a pure function of its key: the key holds the sha256 of the bytes read (through
source_files.read_source, the only reader of a project's files), everything else the facts depend on (the
module's name and path), and the version of the analyser code. A tenant can only have facts stored for bytes
it supplied, and they are the facts anyone analysing those bytes would get, so no tenant can change what
another sees; different bytes are a different key and never hit. Entries are pickles, so the folder must be the
service's own: it is made 0700, and a folder that is not owned by this user, or that others may write, turns
the cache off. The workers are fresh processes per call (toolbox/isolated.py), so an in-memory layer would die
with each call; the disk is the layer they share, and the OS page cache keeps hot entries in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FactsCache", "content_hash"]

_MAX_ENTRY_BYTES = 64 * 1024 * 1024
_SUFFIX = ".facts"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FactsCache:
    """Entries in `folder`, at most `max_bytes` in all: the least recently used go first when a trim finds
    more. Any entry that cannot be read as written (a link, a partial write, another key) is a miss."""

    folder: Path
    max_bytes: int
    hits: int = field(default=0, compare=False)
    misses: int = field(default=0, compare=False)
    _usable: bool | None = field(default=None, compare=False, repr=False)
    _written: int = field(default=0, compare=False, repr=False)

    def key(self, version: str, *parts: str) -> str:
        return hashlib.sha256("\0".join((version, *parts)).encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, key: str) -> Any | None:
        found = self._read(key) if self._ready() else None
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: str, value: Any) -> None:
        if not self._ready():
            return
        try:
            data = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
        except (RecursionError, pickle.PicklingError, TypeError, ValueError):
            return  # a tree too deep to pickle: analysed again next time
        if len(data) > _MAX_ENTRY_BYTES:
            return
        # Written whole to a private temporary file, then renamed over the entry: readers see the old entry or
        # the new one, never part of one, and the name is never followed if something else sits there.
        with contextlib.suppress(OSError):
            fd, temporary = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(data)
                os.replace(temporary, self.folder / f"{key}{_SUFFIX}")
                self._written += len(data)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def trim(self) -> None:
        """When entries were written and the folder holds over `max_bytes`, drop the least recently used until
        it holds at most nine tenths of it."""
        if not self._written or not self._ready():
            return
        self._written = 0
        entries: list[tuple[float, int, str]] = []
        with contextlib.suppress(OSError), os.scandir(self.folder) as scan:
            for entry in scan:
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    entries.append((info.st_mtime, info.st_size, entry.name))
        total = sum(size for _, size, _ in entries)
        if total <= self.max_bytes:
            return
        for _, size, name in sorted(entries):
            if total <= self.max_bytes * 0.9:
                break
            with contextlib.suppress(OSError):
                os.unlink(self.folder / name)
                total -= size

    def _ready(self) -> bool:
        if self._usable is None:
            self._usable = self.max_bytes > 0 and _private_folder(self.folder)
        return self._usable

    def _read(self, key: str) -> Any | None:
        path = self.folder / f"{key}{_SUFFIX}"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            with os.fdopen(fd, "rb") as file:
                info = os.fstat(file.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_ENTRY_BYTES:
                    return None
                data = file.read()
            stored, value = pickle.loads(data)
        except Exception:  # a partial or foreign file: a miss, and it is rewritten
            return None
        if stored != key:
            return None
        with contextlib.suppress(OSError):
            os.utime(path, follow_symlinks=False)  # recently used, for the trim
        return value


def _private_folder(folder: Path) -> bool:
    """Make the folder (0700) if it is missing; whether it is a real folder of this user that no one else may
    write."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )
