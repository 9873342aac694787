"""Package roots: which folder each module's dotted name starts at, found from the imports the project makes.

A module's name is its path below a package root. The root is not always the folder analysed: a `src/` layout,
a folder above the project, or several projects side by side each put the roots lower down. The robust sign
is the project's own absolute imports: a folder whose name the code imports (`import shop`, `from shop.x
import y`) sits right below a root. Without such a sign, a regular package (folders with `__init__.py`) is
named from the folder above its outermost `__init__.py`, and a loose module from the nearest root found for
other files, else from the folder analysed (or below the last folder whose name is no identifier).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import PurePath

__all__ = ["imported_heads", "look_alike_externals", "module_names"]

_STDLIB = frozenset(sys.stdlib_module_names)


def _statements(stmts: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Statements at any depth, without walking into expressions (imports are statements)."""
    for stmt in stmts:
        yield stmt
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            children = getattr(stmt, name, None)
            if isinstance(children, list):
                yield from _statements(children)


def imported_heads(tree: ast.Module) -> set[str]:
    """First components of the absolute imports in a module (`import a.b`, `from a.b import c` -> `a`)."""
    heads: set[str] = set()
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            heads.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            heads.add(node.module.split(".")[0])
    return heads


def _dotted(parts: Sequence[str]) -> str:
    *dirs, file = parts
    stem = PurePath(file).stem
    return ".".join([*dirs] if stem == "__init__" else [*dirs, stem])


def _chain_top(parts: tuple[str, ...], packages: set[tuple[str, ...]]) -> int | None:
    """Index of the outermost package of the file's run of regular packages; None if its folder is none."""
    depth = len(parts) - 1
    if depth == 0 or parts[:depth] not in packages:
        return None
    outermost = depth
    while outermost > 1 and parts[: outermost - 1] in packages:
        outermost -= 1
    return outermost - 1


def _imported(parts: tuple[str, ...], i: int, heads: set[str]) -> bool:
    name = parts[i] if i < len(parts) - 1 else PurePath(parts[i]).stem
    return name.isidentifier() and name in heads and name not in _STDLIB and name != "__init__"


def _by_imports(parts: tuple[str, ...], top: int | None, heads: set[str]) -> int | None:
    depth = len(parts) - 1
    # Inside the run of packages first (a `src/__init__.py` must not make `src` part of every name), then
    # the plain folders above it (namespace packages).
    first = depth if top is None else top
    order: list[int] = [*range(first, depth + 1), *range(first)]
    for i in order:
        if _imported(parts, i, heads):
            return i
    return None


def module_names(
    files: Iterable[PurePath], heads: set[str], packages_above: Iterable[PurePath] = ()
) -> tuple[dict[PurePath, str], list[PurePath]]:
    """Dotted module names for `files` (paths relative to the base folder), and the package roots used;
    `packages_above` are package folders whose `__init__.py` is not among the files (the folder analysed
    is inside a package)."""
    paths = [f for f in files if f.parts]
    packages = {f.parts[:-1] for f in paths if f.name == "__init__.py"} | {p.parts for p in packages_above}
    starts: dict[PurePath, int] = {}
    loose: list[PurePath] = []
    for path in paths:
        parts = path.parts
        top = _chain_top(parts, packages)
        found = _by_imports(parts, top, heads)
        if found is not None:
            starts[path] = found
        elif top is not None:
            starts[path] = top
        else:
            loose.append(path)
    roots = {path.parts[:i] for path, i in starts.items()}
    for path in loose:
        below = [r for r in roots if path.parts[: len(r)] == r and len(r) < len(path.parts)]
        # A folder that is no identifier (`click-8.1.7/`) cannot be part of a module's name.
        unnamed = [i + 1 for i, part in enumerate(path.parts[:-1]) if not part.isidentifier()]
        starts[path] = max([0, *unnamed, *(len(r) for r in below)])
    names: dict[PurePath, str] = {}
    taken: set[str] = set()
    for path in sorted(starts, key=lambda p: (starts[p] == 0, p)):
        name = _dotted(path.parts[starts[path] :])
        if name in taken or not name:
            # Two files claim one name (tests folders often do): fall back to the path from the top.
            name = _dotted(path.parts)
        taken.add(name)
        names[path] = name
    used = sorted({PurePath(*path.parts[: starts[path]]) for path in names})
    return names, used


def look_alike_externals(external: Iterable[str], units: Iterable[str]) -> list[str]:
    """Heads of external calls whose dotted name ends a project function's name (`pkg.core.run` called as
    external while the project defines `src.pkg.core.run`): a sign a package root was missed."""
    tails: set[str] = set()
    for unit in units:
        parts = unit.split(".")
        tails.update(".".join(parts[i:]) for i in range(1, len(parts) - 1))
    called = {e.removesuffix("()") for e in external}
    return sorted({c.split(".")[0] for c in called if "." in c and c in tails})
