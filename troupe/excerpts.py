"""Excerpts of step outputs for the reviewer and the planner's revision: what matters for the task, within a
bound, keeping each value's type so an output's form can still be checked.

- a code_analyzer result: the paths, the graph's edges and functions along them, `unresolved` and `errors`
  (the whole graph is left out);
- other JSON: every top-level key, with long strings, lists and objects cut shorter until the whole fits;
- text: its head and its tail.

A dict excerpt that left something out says what under the key `_excerpt`. Excerpts stay within the bound,
except that a call graph's paths with their edges, and that note (600 characters at most), are never cut.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

__all__ = ["NOTE_KEY", "call_graph_excerpt", "excerpt", "json_excerpt", "size_of", "text_excerpt"]

NOTE_KEY = "_excerpt"
# (characters per string, items per list, keys per object) below the top level, loosest first.
# Objects keep at least 8 keys, so that records in lists (a call edge, an error) keep their fields.
_NOTE_CHARS = 600
_LEVELS = (
    (4_000, 200, 100),
    (2_000, 100, 60),
    (1_000, 40, 40),
    (600, 20, 25),
    (300, 10, 15),
    (150, 5, 10),
    (100, 3, 8),
    (40, 1, 8),
    (0, 0, 8),
)


def size_of(value: JsonValue) -> int:
    """Characters of `value` as compact JSON (a string counts as its text)."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def excerpt(tool: str, output: JsonValue, max_chars: int) -> JsonValue:
    """What of `output` the reviewer sees, at most about `max_chars` characters."""
    if isinstance(output, str):
        return text_excerpt(output, max_chars)
    if size_of(output) <= max_chars:
        return output
    if tool == "code_analyzer" and isinstance(output, Mapping) and "paths" in output:
        return call_graph_excerpt(output, max_chars)
    return json_excerpt(output, max_chars)


def text_excerpt(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    marker = f"\n[… {{}} characters of {len(text):,} left out …]\n"
    room = max(max_chars - len(marker) - 8, 2)
    head, tail = room * 2 // 3, room - room * 2 // 3
    return text[:head] + marker.format(f"{len(text) - head - tail:,}") + text[len(text) - tail :]


def json_excerpt(value: JsonValue, max_chars: int) -> JsonValue:
    if size_of(value) <= max_chars:
        return value
    for chars, items, keys in _LEVELS:
        notes: list[str] = []
        cut: JsonValue
        if isinstance(value, Mapping):
            fields = {k: _cut(v, chars, items, keys, k, notes) for k, v in value.items()}
            cut = fields | {NOTE_KEY: _note(notes, value)} if notes else fields
        else:
            cut = _cut(value, chars, items, keys, "", notes)
        if size_of(cut) <= max_chars:
            return cut
    # Too many top-level keys to name them all: the first ones, and how many there were.
    if isinstance(value, Mapping):
        kept: dict[str, JsonValue] = {}
        for k in value:
            if size_of(kept) + len(k) + 8 > max_chars - 120:
                break
            kept[k] = None
        kept[NOTE_KEY] = f"{len(kept)} of {len(value):,} top-level keys shown, values left out"
        return kept
    return [] if isinstance(value, list) else None


def call_graph_excerpt(output: Mapping[str, Any], max_chars: int) -> dict[str, JsonValue]:
    """The paths with their edges, and what could not be resolved; the rest of the graph is counted."""
    paths: list[list[str]] = [list(p) for p in output.get("paths") or [] if isinstance(p, list)]
    graph = output.get("graph") if isinstance(output.get("graph"), Mapping) else {}
    assert isinstance(graph, Mapping)
    steps = {(a, b) for path in paths for a, b in itertools.pairwise(path)}
    on_paths = {name for path in paths for name in path}
    # One edge per step of a path (its first call site) is evidence enough.
    edges: dict[tuple[Any, Any], JsonValue] = {}
    for edge in graph.get("edges") or []:
        if isinstance(edge, dict) and _pair(edge) in steps:
            edges.setdefault(_pair(edge), edge)
    functions: list[JsonValue] = [
        f for f in graph.get("functions") or [] if isinstance(f, dict) and f.get("name") in on_paths
    ]
    essentials: dict[str, JsonValue] = {
        k: output[k] for k in ("language", "sources", "targets", "paths", "paths_truncated") if k in output
    }
    essentials["graph"] = {
        "language": graph.get("language", output.get("language", "")),
        "root": graph.get("root", ""),
        "files": graph.get("files", 0),
        "functions": functions,
        "edges": list(edges.values()),
    }
    counts = {
        "graph_functions": len(graph.get("functions") or []),
        "graph_edges": len(graph.get("edges") or []),
        "graph_external_calls": len(graph.get("external") or []),
        "unresolved": len(output.get("unresolved") or []),
        "errors": len(output.get("errors") or []),
    }
    note = (
        f"call-graph excerpt of {size_of(dict(output)):,} characters of JSON: the paths and the "
        "graph's functions and edges along them; the graph had "
        + ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in counts.items())
    )
    fitted = json_excerpt(essentials, max_chars * 3 // 4 - len(note))
    if not _keeps_form(fitted, essentials):
        fitted = _minimal(essentials)
    assert isinstance(fitted, dict)
    rest: dict[str, JsonValue] = {k: output[k] for k in ("unresolved", "errors", "mermaid") if k in output}
    kept_rest = json_excerpt(rest, max_chars - size_of(fitted) - len(note))
    if not _keeps_form(kept_rest, rest):
        kept_rest = {k: "" if isinstance(v, str) else [] for k, v in rest.items()}
        kept_rest[NOTE_KEY] = ": unresolved calls, errors and the diagram left out"
    assert isinstance(kept_rest, dict)
    cuts = [
        str(n).split(": ", 1)[-1] for n in (fitted.pop(NOTE_KEY, None), kept_rest.pop(NOTE_KEY, None)) if n
    ]
    return {**fitted, **kept_rest, NOTE_KEY: note + "".join(f"; cut: {c}" for c in cuts)[:_NOTE_CHARS]}


def _keeps_form(cut: JsonValue, whole: Mapping[str, JsonValue]) -> bool:
    """Whether cutting left every value of `whole` in place with its type (not the key-only fallback)."""
    return isinstance(cut, dict) and all(
        type(cut.get(k)) is type(v) for k, v in whole.items() if k != NOTE_KEY
    )


def _minimal(essentials: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The paths and the edges along them, whatever the bound: they are what the task asked for."""
    graph = essentials["graph"]
    assert isinstance(graph, dict)
    return {
        **{k: v[:5] if isinstance(v, list) and k != "paths" else v for k, v in essentials.items()},
        "graph": {**graph, "functions": []},
        NOTE_KEY: ": only the paths and their edges fit",
    }


def _pair(edge: Mapping[str, Any]) -> tuple[Any, Any]:
    return edge.get("caller"), edge.get("callee")


def _cut(value: Any, chars: int, items: int, keys: int, where: str, notes: list[str]) -> JsonValue:
    if isinstance(value, str):
        if len(value) <= chars:
            return value
        notes.append(f"{where}: {chars:,} of {len(value):,} characters")
        return value[:chars]
    if isinstance(value, list):
        if len(value) > items:
            notes.append(f"{where}: {items:,} of {len(value):,} items")
        return [_cut(v, chars, items, keys, f"{where}[{i}]", notes) for i, v in enumerate(value[:items])]
    if isinstance(value, Mapping):
        if len(value) > keys:
            notes.append(f"{where}: {keys:,} of {len(value):,} keys")
        shown = list(value.items())[:keys]
        return {k: _cut(v, chars, items, keys, f"{where}.{k}", notes) for k, v in shown}
    return value  # type: ignore[no-any-return]


def _note(notes: list[str], value: Mapping[str, Any]) -> str:
    shown = "; ".join(notes[:8]) + (f"; and {len(notes) - 8:,} more cuts" if len(notes) > 8 else "")
    return f"excerpt of {size_of(dict(value)):,} characters of JSON: {shown}"
