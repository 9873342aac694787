"""file_operations: read, write, list and search files within the task's workspace and allowed read-only roots."""

from __future__ import annotations

import asyncio
import errno
import fnmatch
import os
import stat
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

import re2
from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolbox.beneath import (
    MAX_DEPTH,
    LeavesRoot,
    NotRegularFile,
    TooDeep,
    ensure_regular,
    open_beneath,
    regular_files,
)
from toolbox.errors import InvalidArguments, PathRefused, ToolFailed
from toolbox.registry import ToolContext, ToolSpec
from toolbox.settings import ToolSettings
from toolbox.workspace import locate

__all__ = ["FileMatch", "FileOpArgs", "FileOpResult", "FileOperations"]

_MAX_LIST = 1000
_MAX_LINE = 500

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the caller's error, reported in the result


class _Regex(Protocol):
    def search(self, text: str) -> object: ...


class FileOpArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    op: Literal["read", "write", "list", "search"]
    path: str = Field(
        min_length=1, description="relative to the workspace, or absolute inside an allowed root"
    )
    content: str | None = Field(default=None, description="for write")
    pattern: str | None = Field(
        default=None, description="for list: a glob on file names; for search: a regular expression"
    )

    @model_validator(mode="after")
    def _needs(self) -> FileOpArgs:
        if self.op == "write" and self.content is None:
            raise ValueError("write needs 'content'")
        if self.op == "search" and not self.pattern:
            raise ValueError("search needs 'pattern'")
        return self


class FileMatch(BaseModel):
    path: str
    line: int
    text: str


class FileOpResult(BaseModel):
    op: str
    path: str
    content: str | None = None
    entries: list[str] | None = None
    matches: list[FileMatch] | None = None
    bytes_written: int | None = None
    truncated: bool = False


class FileOperations:
    """Every path is located under its root (`locate`) and opened beneath it (`open_beneath`): writes only in the
    workspace, symlinks followed only while they stay under the root, and only regular files read or written."""

    def __init__(self, settings: ToolSettings) -> None:
        self._settings = settings
        self.spec = ToolSpec(
            name="file_operations",
            description=(
                "Read, write, list or search (regex) files in the task's workspace; read-only access to the "
                "extra roots the task allows. Paths outside them are refused."
            ),
            args_model=FileOpArgs,
            result_model=FileOpResult,
            timeout_s=10.0,
            limits={
                "max_read_bytes": settings.file_max_read_bytes,
                "max_write_bytes": settings.file_max_write_bytes,
                "max_matches": settings.file_max_matches,
            },
        )

    async def run(self, args: FileOpArgs, context: ToolContext) -> FileOpResult:
        root, relative = locate(
            args.path, context.workspace, context.read_only_roots, write=args.op == "write"
        )
        try:
            async with context.sides.use("host"):
                return await asyncio.to_thread(self._do, args, root, relative)
        except LeavesRoot:
            place = "the workspace" if root == context.workspace.resolve() else "its read-only root"
            raise PathRefused(f"{args.path!r} goes through a symlink that points outside {place}") from None
        except TooDeep:
            raise PathRefused(f"{args.path!r} is more than {MAX_DEPTH} folders deep") from None
        except NotRegularFile:
            raise InvalidArguments(
                f"file_operations: {args.path!r} is not a regular file (a FIFO, socket or device)"
            ) from None
        except FileNotFoundError:
            raise ToolFailed(f"file_operations: {args.path!r} does not exist") from None
        except IsADirectoryError:
            raise InvalidArguments(f"file_operations: {args.path!r} is a directory") from None
        except NotADirectoryError:
            raise InvalidArguments(f"file_operations: {args.path!r} is not a directory") from None
        except PermissionError as e:
            raise ToolFailed(f"file_operations: permission denied on {args.path!r}: {e.strerror}") from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise PathRefused(f"{args.path!r} goes through too many symlinks") from None
            raise

    def _do(self, args: FileOpArgs, root: Path, relative: PurePosixPath) -> FileOpResult:
        if args.op == "read":
            return self._read(args, root, relative)
        if args.op == "write":
            return self._write(args, root, relative)
        if args.op == "list":
            return self._list(args, root, relative)
        return self._search(args, root, relative)

    def _read(self, args: FileOpArgs, root: Path, relative: PurePosixPath) -> FileOpResult:
        cap = self._settings.file_max_read_bytes
        fd = open_beneath(root, relative, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        with os.fdopen(fd, "rb") as f:
            ensure_regular(fd)
            data = f.read(cap + 1)
        return FileOpResult(
            op="read",
            path=args.path,
            content=data[:cap].decode("utf-8", "replace"),
            truncated=len(data) > cap,
        )

    def _write(self, args: FileOpArgs, root: Path, relative: PurePosixPath) -> FileOpResult:
        data = (args.content or "").encode()
        if len(data) > self._settings.file_max_write_bytes:
            raise InvalidArguments(
                f"file_operations: content is larger than {self._settings.file_max_write_bytes} bytes"
            )
        # No O_TRUNC: what the path names is known only once it is open, and only a regular file is cut.
        flags = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY
        fd = open_beneath(root, relative, flags, create_dirs=True)
        with os.fdopen(fd, "wb") as f:
            ensure_regular(fd)
            os.ftruncate(fd, 0)
            f.write(data)
        return FileOpResult(op="write", path=args.path, bytes_written=len(data))

    def _list(self, args: FileOpArgs, root: Path, relative: PurePosixPath) -> FileOpResult:
        fd = open_beneath(root, relative, os.O_RDONLY | os.O_DIRECTORY | os.O_NONBLOCK)
        try:
            with os.scandir(fd) as entries:
                names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries)
        finally:
            os.close(fd)
        if args.pattern:
            names = [n for n in names if fnmatch.fnmatch(n.rstrip("/"), args.pattern)]
        return FileOpResult(
            op="list", path=args.path, entries=names[:_MAX_LIST], truncated=len(names) > _MAX_LIST
        )

    def _search(self, args: FileOpArgs, root: Path, relative: PurePosixPath) -> FileOpResult:
        regex = _compile(args.pattern or "")
        cap = self._settings.file_max_matches
        # The worker thread stops by itself at the tool's timeout rather than scanning on unobserved.
        deadline = time.monotonic() + self.spec.timeout_s
        matches: list[FileMatch] = []
        too_deep: list[str] = []
        fd = open_beneath(root, relative, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                files: Iterable[tuple[str, int]] = regular_files(fd, too_deep)
            else:
                ensure_regular(fd)
                files = [(relative.name or ".", fd)]
            for shown, file_fd in files:
                if time.monotonic() > deadline:
                    return FileOpResult(op="search", path=args.path, matches=matches, truncated=True)
                for number, line in _lines(file_fd, self._settings.file_max_read_bytes):
                    if regex.search(line):
                        matches.append(FileMatch(path=shown, line=number, text=line[:_MAX_LINE]))
                        if len(matches) > cap:
                            return FileOpResult(
                                op="search", path=args.path, matches=matches[:cap], truncated=True
                            )
        finally:
            os.close(fd)
        return FileOpResult(op="search", path=args.path, matches=matches, truncated=bool(too_deep))


def _compile(pattern: str) -> _Regex:
    """RE2 runs in time linear in the text, so no pattern can stall a search (Python's `re` backtracks)."""
    try:
        compiled: _Regex = re2.compile(pattern, _RE2_OPTIONS)
        return compiled
    except re2.error as e:
        reason = e.args[0].decode(errors="replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        raise InvalidArguments(
            f"file_operations: bad search pattern {pattern!r}: {reason} "
            "(RE2 syntax: no backreferences or lookaround)"
        ) from None


def _lines(fd: int, cap: int) -> list[tuple[int, str]]:
    data = b""
    while len(data) < cap and (chunk := os.read(fd, cap - len(data))):
        data += chunk
    if b"\x00" in data[:1024]:
        return []  # binary
    return list(enumerate(data.decode("utf-8", "replace").splitlines(), start=1))
