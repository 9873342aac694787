"""The Python analyser: a static call graph from the `ast` of every module, without importing anything.

Two passes. `collect` walks each module and records, per scope (module, class body, function), what every name
is bound to: definitions, imports (absolute, relative, aliased, star), simple aliases (`f = g`) and instances
(`x = Class()`, `self.x = Class()`, annotated parameters), plus the calls each unit makes. `resolve` follows
every call through those bindings, with Python's scoping (class bodies are invisible to their methods),
re-exports, inheritance and `super()`, through what functions return (their annotation, else the classes
their `return`s construct), `with ... as` (what `__enter__` gives) and into functions passed as arguments
(callback edges, also from the callee that calls the parameter they land in). Bindings are flow-insensitive: a
name bound twice in one scope is either of the things bound, and one defined through itself is unresolved.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from toolbox.code_analyzer.base import Deadline
from toolbox.code_analyzer.facts_cache import FactsCache
from toolbox.code_analyzer.model import CallGraph
from toolbox.code_analyzer.python.collect import collect, module_name
from toolbox.code_analyzer.python.resolve import build_graph

__all__ = ["PythonAnalyzer", "module_name"]


class PythonAnalyzer:
    """With `cache`, what each file gives is kept there under the hash of its bytes (facts_cache.py)."""

    language = "python"
    extensions = (".py",)

    def __init__(self, cache: FactsCache | None = None) -> None:
        self.cache = cache

    def analyse(self, root: Path, files: Sequence[Path]) -> CallGraph:
        return self.analyse_until(root, files, Deadline.never())

    def analyse_until(self, root: Path, files: Sequence[Path], deadline: Deadline) -> CallGraph:
        return build_graph(collect(root, files, deadline, self.cache), deadline)
