"""Finding functions by the names people use for them, and the call paths between them."""

from __future__ import annotations

from collections import defaultdict

from toolbox.code_analyzer.model import CallGraph

__all__ = ["call_paths", "match_functions"]


def _clean(name: str) -> str:
    name = name.strip()
    name = name.removesuffix("()").replace(":", ".")
    return name


def match_functions(graph: CallGraph, name: str) -> list[str]:
    """Qualified names `name` stands for: an exact qualified name, else every unit whose name ends with it."""
    wanted = _clean(name)
    names = [f.name for f in graph.functions if f.kind != "module"]
    if wanted in names:
        return [wanted]
    return sorted(n for n in names if n.endswith("." + wanted))


def call_paths(
    graph: CallGraph, sources: list[str], targets: list[str], *, max_paths: int = 50, max_depth: int = 40
) -> tuple[list[list[str]], bool]:
    """Simple paths (no function twice, so recursion and cycles end) from any source to any target, shortest
    first; the flag says the max_paths cap cut the search."""
    calls: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        calls[edge.caller].add(edge.callee)
    goal = set(targets)
    found: list[list[str]] = []
    truncated = False

    def walk(path: list[str], on_path: set[str]) -> None:
        nonlocal truncated
        node = path[-1]
        if node in goal and len(path) > 1:
            found.append(list(path))
            return
        if len(path) >= max_depth:
            return
        for callee in sorted(calls.get(node, ())):
            if len(found) >= max_paths * 4:
                truncated = True
                return
            if callee not in on_path:
                path.append(callee)
                on_path.add(callee)
                walk(path, on_path)
                on_path.discard(callee)
                path.pop()

    for source in sources:
        if source in goal:
            found.append([source])
            continue
        walk([source], {source})
    found.sort(key=lambda p: (len(p), p))
    if len(found) > max_paths:
        truncated = True
    return found[:max_paths], truncated
