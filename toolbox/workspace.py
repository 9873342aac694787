"""Path confinement: a path a tool is given must stay inside the task's workspace (read/write) or one of the
read-only roots the task was allowed, both as written and after following symlinks.

`locate` applies the rules for the path as written; the file tools then open it with `toolbox.beneath`, which
holds the symlink rule while it opens. `confine` checks both at once, for a tool that opens by path later.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from toolbox.errors import PathRefused

__all__ = ["confine", "lexical_target", "locate"]


def _within(path: Path | PurePosixPath, root: Path | PurePosixPath) -> bool:
    return path == root or root in path.parents


def lexical_target(path: str, workspace: Path) -> Path:
    """Where `path` points without touching the disk: relative paths start at the workspace, `..` is folded."""
    if not path or "\x00" in path:
        raise PathRefused(f"invalid path {path!r}")
    joined = os.path.join(workspace, path)
    return Path(os.path.normpath(joined))


def locate(
    path: str, workspace: Path, read_only_roots: Sequence[Path] = (), *, write: bool
) -> tuple[Path, PurePosixPath]:
    """The (resolved) root `path` lies in and its place under that root, as written; nothing is followed."""
    ws = workspace.resolve()
    roots = [r.resolve() for r in read_only_roots]
    target = lexical_target(path, ws)
    for root in [ws] if write else [ws, *roots]:
        if _within(target, root):
            return root, PurePosixPath(target.relative_to(root))
    if write and any(_within(target, r) for r in roots):
        raise PathRefused(f"{path!r} is in a read-only root; only the workspace is writable")
    if not os.path.isabs(path):
        raise PathRefused(f"{path!r} leaves the workspace (path traversal)")
    raise PathRefused(f"{path!r} is outside the workspace and the allowed read-only roots")


def confine(path: str, workspace: Path, read_only_roots: Sequence[Path] = (), *, write: bool) -> Path:
    """The resolved path, or PathRefused saying which rule it breaks."""
    root, relative = locate(path, workspace, read_only_roots, write=write)
    allowed = (
        [workspace.resolve()] if write else [workspace.resolve(), *(r.resolve() for r in read_only_roots)]
    )
    # Symlinks anywhere on the way (also a dangling last component) are followed before the final check.
    real = Path(os.path.realpath(root / relative))
    if not any(_within(real, r) for r in allowed):
        raise PathRefused(f"{path!r} goes through a symlink that points outside the workspace ({real})")
    return real
