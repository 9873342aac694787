"""file_operations: read, write, list and search files within the task's workspace and allowed read-only roots."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from toolbox.errors import InvalidArguments, PathRefused, ToolFailed
from toolbox.registry import ToolContext, ToolSpec
from toolbox.settings import ToolSettings
from toolbox.workspace import confine

__all__ = ["FileMatch", "FileOpArgs", "FileOpResult", "FileOperations"]

_MAX_LIST = 1000
_MAX_LINE = 500


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
    """Every path goes through `confine` first; writes only in the workspace, never through a symlink."""

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
        target = confine(args.path, context.workspace, context.read_only_roots, write=args.op == "write")
        try:
            return await asyncio.to_thread(self._do, args, target)
        except FileNotFoundError:
            raise ToolFailed(f"file_operations: {args.path!r} does not exist") from None
        except IsADirectoryError:
            raise InvalidArguments(f"file_operations: {args.path!r} is a directory") from None
        except NotADirectoryError:
            raise InvalidArguments(f"file_operations: {args.path!r} is not a directory") from None
        except PermissionError as e:
            raise ToolFailed(f"file_operations: permission denied on {args.path!r}: {e.strerror}") from None

    def _do(self, args: FileOpArgs, target: Path) -> FileOpResult:
        if args.op == "read":
            return self._read(args, target)
        if args.op == "write":
            return self._write(args, target)
        if args.op == "list":
            return self._list(args, target)
        return self._search(args, target)

    def _read(self, args: FileOpArgs, target: Path) -> FileOpResult:
        cap = self._settings.file_max_read_bytes
        with open(target, "rb") as f:
            data = f.read(cap + 1)
        return FileOpResult(
            op="read",
            path=args.path,
            content=data[:cap].decode("utf-8", "replace"),
            truncated=len(data) > cap,
        )

    def _write(self, args: FileOpArgs, target: Path) -> FileOpResult:
        data = (args.content or "").encode()
        if len(data) > self._settings.file_max_write_bytes:
            raise InvalidArguments(
                f"file_operations: content is larger than {self._settings.file_max_write_bytes} bytes"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a symlink planted after `confine` looked is refused rather than written through.
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            if e.errno == 40:  # ELOOP
                raise PathRefused(f"{args.path!r} became a symlink; refusing to write through it") from None
            raise
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return FileOpResult(op="write", path=args.path, bytes_written=len(data))

    def _list(self, args: FileOpArgs, target: Path) -> FileOpResult:
        names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in os.scandir(target))
        if args.pattern:
            names = [n for n in names if fnmatch.fnmatch(n.rstrip("/"), args.pattern)]
        return FileOpResult(
            op="list", path=args.path, entries=names[:_MAX_LIST], truncated=len(names) > _MAX_LIST
        )

    def _search(self, args: FileOpArgs, target: Path) -> FileOpResult:
        try:
            regex = re.compile(args.pattern or "")
        except re.error as e:
            raise InvalidArguments(f"file_operations: bad search pattern {args.pattern!r}: {e}") from None
        cap = self._settings.file_max_matches
        matches: list[FileMatch] = []
        files = [target] if target.is_file() else _walk(target)
        for file in files:
            for number, line in _lines(file, self._settings.file_max_read_bytes):
                if regex.search(line):
                    shown = str(file.relative_to(target)) if file != target else file.name
                    matches.append(FileMatch(path=shown, line=number, text=line[:_MAX_LINE]))
                    if len(matches) > cap:
                        return FileOpResult(
                            op="search", path=args.path, matches=matches[:cap], truncated=True
                        )
        return FileOpResult(op="search", path=args.path, matches=matches)


def _walk(root: Path) -> list[Path]:
    """Regular files under root, symlinks not followed (a link could lead out of the confined tree)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file():
                found.append(path)
    return found


def _lines(file: Path, cap: int) -> list[tuple[int, str]]:
    with open(file, "rb") as f:
        data = f.read(cap)
    if b"\x00" in data[:1024]:
        return []  # binary
    return list(enumerate(data.decode("utf-8", "replace").splitlines(), start=1))
