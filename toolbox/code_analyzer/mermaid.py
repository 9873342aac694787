"""Mermaid flowcharts of call paths (or, when there are none, of what the source reaches)."""

from __future__ import annotations

import itertools

from toolbox.code_analyzer.model import CallGraph

__all__ = ["mermaid_diagram"]

_MAX_EDGES = 80


def _label(name: str) -> str:
    return name.replace('"', "#quot;")


def mermaid_diagram(graph: CallGraph, paths: list[list[str]], sources: list[str], targets: list[str]) -> str:
    edges: list[tuple[str, str]] = []
    for path in paths:
        edges += itertools.pairwise(path)
    if not paths:
        # No path: show what the sources do reach, so the reader sees where the chain breaks.
        reach = set(sources)
        for edge in graph.edges:
            if edge.caller in reach:
                edges.append((edge.caller, edge.callee))
        frontier = True
        while frontier and len(edges) < _MAX_EDGES:
            frontier = False
            for edge in graph.edges:
                if edge.caller in {c for _, c in edges} and (edge.caller, edge.callee) not in edges:
                    edges.append((edge.caller, edge.callee))
                    frontier = True
    unique = list(dict.fromkeys(edges))[:_MAX_EDGES]
    nodes = list(dict.fromkeys([*sources, *[n for e in unique for n in e], *(targets if paths else [])]))
    ids = {name: f"n{i}" for i, name in enumerate(nodes)}
    lines = ["flowchart TD"]
    lines += [f'    {ids[n]}["{_label(n)}"]' for n in nodes]
    # A callback edge (the function passed as an argument, called later) is drawn dotted.
    called = {(e.caller, e.callee) for e in graph.edges if e.kind == "call"}
    lines += [f"    {ids[a]} {'-->' if (a, b) in called else '-.->'} {ids[b]}" for a, b in unique]
    ends = [ids[n] for n in (*sources, *targets) if n in ids]
    if ends:
        lines.append("    classDef endpoint stroke-width:3px")
        lines.append(f"    class {','.join(dict.fromkeys(ends))} endpoint")
    return "\n".join(lines) + "\n"
