"""Excerpts of step outputs for the reviewer and the planner's revision: what matters for the task, within a
bound, keeping each value's type so an output's form can still be checked.

- a code_analyzer result: the paths, the graph's edges and functions along them, `unresolved` and `errors`
  (the whole graph is left out);
- other JSON: every top-level key, with long strings, lists and objects cut shorter until the whole fits;
- text: its head and its tail.

A dict excerpt that left something out says what under the key `_excerpt`.
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
_LEVELS = ((4_000, 200, 100), (1_000, 40, 40), (300, 10, 15), (100, 3, 8), (40, 1, 8), (0, 0, 8))


def size_of(value: JsonValue) -> int:
    """Characters of `value` as compact JSON (a string counts as its text)."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


def excerpt(tool: str, output: JsonValue, max_chars: int) -> JsonValue:
    """What of `output` the reviewer sees, at most about `max_chars` characters."""
    if isinstance(output, str):
        return text_excerpt(output, max_chars)
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
    essentials[NOTE_KEY] = (
        "call-graph excerpt: the paths and the graph's functions and edges along them; the graph had "
        + ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in counts.items())
    )
    essentials = _fit_dict(essentials, max_chars * 3 // 4)
    rest = {k: output[k] for k in ("unresolved", "errors", "mermaid") if k in output}
    room = max(max_chars - size_of(essentials), 600)
    kept_rest = json_excerpt(rest, room)
    if isinstance(kept_rest, dict):
        note = kept_rest.pop(NOTE_KEY, None)
        if note:
            essentials[NOTE_KEY] = f"{essentials[NOTE_KEY]}; {note}"
        return {**essentials, **kept_rest}
    return essentials


def _fit_dict(value: dict[str, JsonValue], max_chars: int) -> dict[str, JsonValue]:
    cut = json_excerpt(value, max_chars)
    if isinstance(cut, dict) and NOTE_KEY in cut and NOTE_KEY in value and cut[NOTE_KEY] != value[NOTE_KEY]:
        cut[NOTE_KEY] = f"{value[NOTE_KEY]}; {cut[NOTE_KEY]}"
    return cut if isinstance(cut, dict) else value


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
