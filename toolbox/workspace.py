"""Path confinement: a path a tool is given must stay inside the task's workspace (read/write) or one of the
read-only roots the task was allowed, both as written and after following symlinks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from toolbox.errors import PathRefused

__all__ = ["confine", "lexical_target"]


def _within(path: Path | PurePosixPath, root: Path | PurePosixPath) -> bool:
    return path == root or root in path.parents


def lexical_target(path: str, workspace: Path) -> Path:
    """Where `path` points without touching the disk: relative paths start at the workspace, `..` is folded."""
    if not path or "\x00" in path:
        raise PathRefused(f"invalid path {path!r}")
    joined = os.path.join(workspace, path)
    return Path(os.path.normpath(joined))


def confine(path: str, workspace: Path, read_only_roots: Sequence[Path] = (), *, write: bool) -> Path:
    """The resolved path, or PathRefused saying which rule it breaks."""
    ws = workspace.resolve()
    roots = [r.resolve() for r in read_only_roots]
    target = lexical_target(path, ws)
    allowed = [ws] if write else [ws, *roots]
    if not any(_within(target, r) for r in allowed):
        if write and any(_within(target, r) for r in roots):
            raise PathRefused(f"{path!r} is in a read-only root; only the workspace is writable")
        if not os.path.isabs(path):
            raise PathRefused(f"{path!r} leaves the workspace (path traversal)")
        raise PathRefused(f"{path!r} is outside the workspace and the allowed read-only roots")
    # Symlinks anywhere on the way (also a dangling last component) are followed before the final check.
    real = Path(os.path.realpath(target))
    if not any(_within(real, r) for r in allowed):
        raise PathRefused(f"{path!r} goes through a symlink that points outside the workspace ({real})")
    return real
