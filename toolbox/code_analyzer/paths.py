"""Finding functions by the names people use for them, and the call paths between them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from toolbox.code_analyzer.model import CallGraph

__all__ = ["call_paths", "match_functions", "no_path_warning", "reachable"]

_RUN_MODULE = ("python -m ", "python3 -m ", "-m ")


def _clean(name: str) -> str:
    name = name.strip()
    name = name.removesuffix("()").replace(":", ".")
    return name


def _run_module(graph: CallGraph, name: str) -> list[str] | None:
    """`python -m pkg` runs pkg/__main__.py (or pkg.py): its module-level code, `if __name__ == ...` included."""
    stripped = name.strip()
    prefix = next((p for p in _RUN_MODULE if stripped.startswith(p)), None)
    if prefix is None:
        return None
    module = stripped.removeprefix(prefix).strip()
    modules = {f.name for f in graph.functions if f.kind == "module"}
    return [m for m in (f"{module}.__main__", module) if m in modules][:1]


def match_functions(graph: CallGraph, name: str) -> list[str]:
    """Qualified names `name` stands for: `python -m pkg`; an exact qualified name; a console script; a
    module's own name (its top-level code); else every unit whose name ends with it, and every function
    imported or assigned under that name elsewhere."""
    run = _run_module(graph, name)
    if run is not None:
        return run
    wanted = _clean(name)
    names = {f.name for f in graph.functions if f.kind != "module"}
    if wanted in names:
        return [wanted]
    script = graph.entry_points.get(wanted)
    if script is not None and script in names:
        return [script]
    modules = {f.name for f in graph.functions if f.kind == "module"}
    if wanted in modules:
        return [wanted]
    found = {n for n in names if n.endswith("." + wanted)}
    found |= set(graph.aliases.get(wanted, ()))
    if not found and wanted == "__main__":
        found = {m for m in modules if m.endswith(".__main__")}
    return sorted(found)


def _calls(graph: CallGraph) -> dict[str, set[str]]:
    calls: dict[str, set[str]] = defaultdict(set)
    for edge in graph.edges:
        calls[edge.caller].add(edge.callee)
    return calls


def reachable(graph: CallGraph, sources: list[str]) -> set[str]:
    calls = _calls(graph)
    seen = set(sources)
    todo = list(sources)
    while todo:
        for callee in calls.get(todo.pop(), ()):
            if callee not in seen:
                seen.add(callee)
                todo.append(callee)
    return seen


def no_path_warning(graph: CallGraph, source: str, target: str, sources: list[str]) -> str:
    reached = reachable(graph, sources)
    inside = sum(1 for u in graph.unresolved if u.caller in reached)
    return (
        f"no call path from {source} to {target}; {len(graph.unresolved)} calls could not be resolved, "
        f"{inside} of them in functions reachable from {source} (see unresolved)"
    )


def call_paths(
    graph: CallGraph,
    sources: list[str],
    targets: list[str],
    *,
    max_paths: int = 50,
    max_depth: int = 40,
    expired: Callable[[], bool] = lambda: False,
) -> tuple[list[list[str]], bool]:
    """Simple paths (no function twice, so recursion and cycles end) from any source to any target, shortest
    first; the flag says the max_paths cap or `expired` cut the search."""
    calls = _calls(graph)
    goal = set(targets)
    # Only functions from which a target can be reached are worth walking into.
    callers: dict[str, set[str]] = defaultdict(set)
    for caller, callees in calls.items():
        for callee in callees:
            callers[callee].add(caller)
    useful = set(goal)
    todo = list(goal)
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in useful:
                useful.add(caller)
                todo.append(caller)
    found: list[list[str]] = []
    truncated = False
    steps = 0

    def walk(path: list[str], on_path: set[str]) -> None:
        nonlocal truncated, steps
        node = path[-1]
        if node in goal and len(path) > 1:
            found.append(list(path))
            return
        if len(path) >= max_depth:
            return
        for callee in sorted(calls.get(node, ())):
            steps += 1
            if len(found) >= max_paths * 4 or (steps % 1024 == 0 and expired()):
                truncated = True
            if truncated:
                return
            if callee not in on_path and callee in useful:
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
