"""Module names for files, and what an import specifier or a package.json entry points to.

A module is named by its path under the root without the extension, with `/` between folders
(`src/utils/math.ts` -> `src/utils/math`), as JavaScript's own specifiers name it; what a module defines
follows with dots (`src/utils/math.add`, `lib/command.Command.parse`). When two files differ only by their
extension (`x.js` beside `x.ts`), both keep it (`x.js`, `x.ts`) so neither hides the other.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from toolbox.code_analyzer.javascript.syntax import EXTENSIONS

__all__ = ["Entry", "ModuleTable", "package_entries"]

# `import './x.js'` in TypeScript names the `x.ts` it will be compiled to.
_COMPILED_FROM = {
    ".js": (".ts", ".tsx"),
    ".jsx": (".tsx",),
    ".mjs": (".mts",),
    ".cjs": (".cts",),
}


def _strip(rel: str) -> str:
    if rel.endswith(".d.ts"):
        return rel[: -len(".d.ts")]
    return posixpath.splitext(rel)[0]


class ModuleTable:
    """The project's files by their path under the root (posix), and the module name of each."""

    def __init__(self, rels: Iterable[str]) -> None:
        self.files = sorted(set(rels))
        stems: dict[str, list[str]] = {}
        for rel in self.files:
            stems.setdefault(_strip(rel), []).append(rel)
        self.names: dict[str, str] = {}
        for stem, rels_ in stems.items():
            for rel in rels_:
                self.names[rel] = stem if len(rels_) == 1 else rel
        self._known = set(self.files)

    def resolve(self, importer: str, specifier: str) -> str | None:
        """The file a relative specifier names from `importer` (a path under the root), or None."""
        if not specifier.startswith((".", "/")):
            return None
        if specifier.startswith("/"):
            return None  # absolute paths name the machine's files, not the project's
        base = posixpath.normpath(posixpath.join(posixpath.dirname(importer), specifier))
        return self.find(base)

    def find(self, base: str) -> str | None:
        """`base` as a file: itself, a TypeScript source behind a `.js` name, with an extension, or a folder's
        index."""
        if base.startswith("../") or base == "..":
            return None
        for candidate in self._candidates(base):
            if candidate in self._known:
                return candidate
        return None

    def _candidates(self, base: str) -> Iterator[str]:
        base = base.removeprefix("./")
        yield base
        stem, ext = posixpath.splitext(base)
        for alternative in _COMPILED_FROM.get(ext, ()):
            yield stem + alternative
        for ext_ in EXTENSIONS:
            yield base + ext_
        for ext_ in EXTENSIONS:
            yield posixpath.join(base, "index" + ext_)


@dataclass(frozen=True)
class Entry:
    """A file a package.json says its users start from (`main`, `module`, `exports`, `bin`)."""

    name: str  # e.g. `package.json.main`, `tools/package.json.bin.mycli`
    package_json: str
    line: int
    file: str


def package_entries(root: Path, table: ModuleTable) -> list[Entry]:
    """Entries of every package.json at the root or in a folder above some analysed file."""
    folders = {""}
    for rel in table.files:
        parts = rel.split("/")[:-1]
        folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    entries: list[Entry] = []
    for folder in sorted(folders):
        if "node_modules" in folder.split("/"):
            continue
        rel = posixpath.join(folder, "package.json") if folder else "package.json"
        path = root / rel
        if path.is_file() and not path.is_symlink():
            entries += _entries_of(path, rel, folder, table)
    return entries


def _entries_of(path: Path, rel: str, folder: str, table: ModuleTable) -> list[Entry]:
    try:
        source = path.read_text(encoding="utf-8", errors="replace")
        manifest = json.loads(source)
    except (OSError, ValueError):
        return []
    if not isinstance(manifest, dict):
        return []
    lines = source.splitlines()
    found: list[Entry] = []
    for key, name, spec in _specs(manifest):
        file = _locate(table, folder, spec)
        if file is None:
            continue
        line = next((i + 1 for i, text in enumerate(lines) if f'"{key}"' in text), 1)
        found.append(Entry(name=f"{rel}.{name}", package_json=rel, line=line, file=file))
    if not found and "main" not in manifest:
        file = _locate(table, folder, "index")
        if file is not None:
            found.append(Entry(name=f"{rel}.main", package_json=rel, line=1, file=file))
    return found


def _specs(manifest: dict[str, object]) -> Iterator[tuple[str, str, str]]:
    """(key to find the line by, entry name, specifier) for each entry the manifest declares."""
    for key in ("main", "module"):
        value = manifest.get(key)
        if isinstance(value, str):
            yield key, key, value
    bin_ = manifest.get("bin")
    if isinstance(bin_, str):
        yield "bin", "bin", bin_
    elif isinstance(bin_, dict):
        for name, value in sorted(bin_.items()):
            if isinstance(value, str):
                yield name, f"bin.{name}", value
    exports = manifest.get("exports")
    for spec in dict.fromkeys(_strings(exports)):
        yield "exports", "exports", spec


def _strings(value: object) -> Sequence[str]:
    if isinstance(value, str):
        return [value] if not value.endswith(".d.ts") else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _locate(table: ModuleTable, folder: str, spec: str) -> str | None:
    """The file an entry names; a built file that is not there (`dist/index.js`) is looked for in the
    TypeScript sources it is usually compiled from (`src/index.ts`)."""
    base = posixpath.normpath(posixpath.join(folder, spec)) if folder else posixpath.normpath(spec)
    found = table.find(base)
    if found is not None:
        return found
    parts = base.split("/")
    offset = len(folder.split("/")) if folder else 0
    if len(parts) > offset + 1 and parts[offset] in ("dist", "lib", "build", "out"):
        for out in ("src", ""):
            rest = parts[offset + 1 :] if not out else [out, *parts[offset + 1 :]]
            source = "/".join([*parts[:offset], *rest])
            # A bundler may build `dist/index.mjs` from `src/index.ts`: any extension will do.
            found = table.find(source) or table.find(posixpath.splitext(source)[0])
            if found is not None:
                return found
    return None
