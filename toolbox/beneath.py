"""Opening a path beneath a root folder without ever leaving it, whatever the tree does meanwhile.

Every component is opened with O_NOFOLLOW relative to the folder fd of the one before it, so a folder swapped
for a symlink between a check and a use is met as a symlink, never followed by the kernel. Symlinks are
followed here instead, by reading them: a relative target resolves against the folders already held (`..`
drops one), an absolute one only when it names a place under the root, and anything that would climb above
the root raises LeavesRoot. Only regular files are read or written, opened non-blocking, so a FIFO or a
device can neither block a thread nor be written through. (openat2 with RESOLVE_BENEATH does the walk in the
kernel; Python 3.11 has no binding for it, and the walk here needs none.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import deque
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

__all__ = [
    "MAX_DEPTH",
    "LeavesRoot",
    "NotRegularFile",
    "TooDeep",
    "ensure_regular",
    "open_beneath",
    "regular_files",
]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_MAX_LINKS = 40  # the kernel's own limit on symlinks in one lookup
# The walk holds an fd per folder (`..` must return to the folder it came from, not to whatever is its parent
# now), and os.fwalk recurses per level: deeper paths are refused, deeper folders not searched, so no path
# can take more than this many of the executor's fds, nor a tree made in the workspace exhaust them.
MAX_DEPTH = 64


class LeavesRoot(Exception):
    """A symlink on the way points outside the root."""


class TooDeep(Exception):
    """The path goes more than MAX_DEPTH folders below the root."""


class NotRegularFile(Exception):
    """The path names a FIFO, a socket or a device: never opened for reading or writing."""


def open_beneath(
    root: Path, relative: PurePosixPath, flags: int, *, create_dirs: bool = False, mode: int = 0o644
) -> int:
    """An fd of root/relative opened with `flags`; with create_dirs, missing folders on the way are made
    (root included). `relative` must already be free of `..` that climb above the root."""
    held = [_open_root(root, create_dirs)]
    try:
        todo = deque(p for p in relative.parts if p not in ("", "."))
        links = 0
        while todo:
            name = todo.popleft()
            if name == "..":
                if len(held) == 1:
                    raise LeavesRoot(name)
                os.close(held.pop())
                continue
            last = not todo
            try:
                fd = (
                    _open_final(name, held[-1], flags, mode)
                    if last
                    else _open_dir(name, held[-1], create_dirs)
                )
            except OSError as e:
                target = _link_target(e, name, held[-1])
                if target is None:
                    raise
                links += 1
                if links > _MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(relative)) from None
                if target.is_absolute():
                    if not target.is_relative_to(root):
                        raise LeavesRoot(str(target)) from None
                    target = target.relative_to(root)
                    while len(held) > 1:
                        os.close(held.pop())
                todo.extendleft(reversed(target.parts))
                continue
            if last:
                return fd
            held.append(fd)
            if len(held) > MAX_DEPTH:
                raise TooDeep(str(relative))
        # Nothing left to walk (the root itself, or a link to a folder held): open the folder reached.
        return _open_final(".", held[-1], flags, mode)
    finally:
        for fd in held:
            os.close(fd)


def ensure_regular(fd: int) -> None:
    """Raise unless fd is a regular file (IsADirectoryError for a folder, as open() would)."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if not stat.S_ISREG(mode):
        raise NotRegularFile(stat.filemode(mode))


def regular_files(dir_fd: int, too_deep: list[str] | None = None) -> Iterator[tuple[str, int]]:
    """(path relative to the folder, fd) of every regular file under the folder at dir_fd, in sorted order;
    symlinks are skipped, never followed, and folders MAX_DEPTH deep are not entered (their paths go into
    `too_deep`). Each fd is closed when the caller asks for the next."""
    for dirpath, dirnames, filenames, walk_fd in os.fwalk(".", dir_fd=dir_fd, follow_symlinks=False):
        if dirpath.count("/") >= MAX_DEPTH - 1 and dirnames:
            if too_deep is not None:
                too_deep.append(os.path.normpath(dirpath))
            dirnames.clear()
        dirnames.sort()
        for name in sorted(filenames):
            try:
                fd = os.open(name, _FILE_FLAGS, dir_fd=walk_fd)
            except OSError:
                continue  # a symlink (ELOOP), a socket (ENXIO), or gone meanwhile
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    yield os.path.normpath(os.path.join(dirpath, name)), fd
            finally:
                os.close(fd)


def _open_root(root: Path, create: bool) -> int:
    try:
        return os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        if not create:
            raise
    root.mkdir(parents=True, exist_ok=True)
    return os.open(root, _DIR_FLAGS)


def _open_dir(name: str, dir_fd: int, create: bool) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile: the open below sees what it is
        os.mkdir(name, 0o755, dir_fd=dir_fd)
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _open_final(name: str, dir_fd: int, flags: int, mode: int) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as e:
        if e.errno == errno.ENXIO:  # a FIFO with no reader opened for writing, or a socket
            raise NotRegularFile(name) from None
        raise


def _link_target(error: OSError, name: str, dir_fd: int) -> PurePosixPath | None:
    """What the symlink `name` points to, when opening it failed because it is one."""
    if error.errno not in (errno.ELOOP, errno.ENOTDIR):
        return None
    try:
        return PurePosixPath(os.readlink(name, dir_fd=dir_fd))
    except OSError:
        return None  # not a symlink (or no longer one): the open's own error stands
