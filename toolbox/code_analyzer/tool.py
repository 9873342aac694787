"""code_analyzer: the call graph of a project and the call paths from one function to another."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from toolbox.code_analyzer.base import BoundedAnalyzer, Deadline, LanguageAnalyzer
from toolbox.code_analyzer.facts_cache import FactsCache
from toolbox.code_analyzer.gc_paused import gc_paused
from toolbox.code_analyzer.javascript import JavaScriptAnalyzer
from toolbox.code_analyzer.mermaid import mermaid_diagram
from toolbox.code_analyzer.model import AnalyzeArgs, AnalyzeResult, CallGraph
from toolbox.code_analyzer.paths import call_paths, match_functions, no_path_warning
from toolbox.code_analyzer.python import PythonAnalyzer
from toolbox.errors import InvalidArguments
from toolbox.isolated import Limits, run_isolated
from toolbox.registry import ToolContext, ToolSpec
from toolbox.settings import ToolSettings
from toolbox.workspace import confine

__all__ = ["CodeAnalyzer", "analyse_project", "find_sources"]

_SKIP_DIRS = frozenset({".git", ".hg", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"})
MAX_FILES = 5_000


def find_sources(root: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Files with those endings under root (or root itself), skipping hidden and tool directories and symlinks."""
    if root.is_file():
        return [root] if root.name.endswith(extensions) else []
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.endswith(extensions) and not path.is_symlink():
                found.append(path)
    return found


def analyse_project(
    root: Path,
    source: str | None,
    target: str | None,
    analyzers: Sequence[LanguageAnalyzer],
    budget_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AnalyzeResult:
    """Pure of the network and of imports: reads the files under root and nothing else. With `budget_s`, an
    analyser that can stop early does so when the budget is spent, and the result is marked partial."""
    with gc_paused():
        return _analyse(root, source, target, analyzers, budget_s, clock)


def _analyse(
    root: Path,
    source: str | None,
    target: str | None,
    analyzers: Sequence[LanguageAnalyzer],
    budget_s: float | None,
    clock: Callable[[], float],
) -> AnalyzeResult:
    deadline = Deadline.after(budget_s, clock) if budget_s is not None else Deadline.never()
    chosen: tuple[LanguageAnalyzer, list[Path]] | None = None
    for analyzer in analyzers:
        files = find_sources(root, analyzer.extensions)
        if files and (chosen is None or len(files) > len(chosen[1])):
            chosen = (analyzer, files)
    if chosen is None:
        languages = ", ".join(a.language for a in analyzers)
        raise InvalidArguments(
            f"code_analyzer: no source files of a known language ({languages}) under {root}"
        )
    analyzer, files = chosen
    if len(files) > MAX_FILES:
        raise InvalidArguments(f"code_analyzer: {len(files)} files under {root}; the limit is {MAX_FILES}")
    if isinstance(analyzer, BoundedAnalyzer):
        graph = analyzer.analyse_until(root, files, deadline)
    else:
        graph = analyzer.analyse(root, files)
    warnings = list(graph.warnings)
    sources = _match(graph, source, "source", warnings)
    targets = _match(graph, target, "target", warnings)
    paths: list[list[str]] = []
    truncated = False
    if sources and targets:
        paths, truncated = call_paths(graph, sources, targets, expired=deadline.expired)
        if truncated and deadline.expired():
            warnings.append("the time budget ran out while searching call paths; more paths may exist")
        elif not paths and source and target:
            warnings.append(no_path_warning(graph, source, target, sources))
    return AnalyzeResult(
        language=graph.language,
        sources=sources,
        targets=targets,
        paths=paths,
        paths_truncated=truncated,
        mermaid=mermaid_diagram(graph, paths, sources, targets),
        unresolved=graph.unresolved,
        errors=graph.errors,
        graph=graph,
        warnings=warnings,
        partial=graph.partial,
    )


def _analysed_json(
    root: Path,
    source: str | None,
    target: str | None,
    analyzers: Sequence[LanguageAnalyzer],
    budget_s: float | None,
) -> str:
    """analyse_project's result as JSON, to leave the worker: a large graph's pydantic objects take about three
    times longer to pickle and unpickle than to write and validate as JSON."""
    return analyse_project(root, source, target, analyzers, budget_s).model_dump_json()


def _match(graph: CallGraph, name: str | None, role: str, warnings: list[str]) -> list[str]:
    if not name:
        return []
    found = match_functions(graph, name)
    if not found and graph.partial:
        warnings.append(
            f"no function matches the {role} {name!r} in the part analysed before the budget ran out"
        )
    elif not found:
        raise InvalidArguments(f"code_analyzer: no function matches the {role} {name!r} in {graph.root}")
    return found


class CodeAnalyzer:
    """Parsing a large tree is CPU-bound: it runs in a worker process with a time and a memory limit, so the
    analysers must be picklable."""

    def __init__(
        self,
        settings: ToolSettings | None = None,
        analyzers: Sequence[LanguageAnalyzer] | None = None,
    ) -> None:
        settings = settings or ToolSettings()
        if analyzers is None:
            cache = FactsCache(settings.analysis_cache_dir, settings.analysis_cache_mb * 1024 * 1024)
            analyzers = (PythonAnalyzer(cache), JavaScriptAnalyzer())
        self._analyzers = list(analyzers)
        self._limits = Limits(wall_s=settings.analysis_timeout_s, memory_mib=settings.analysis_memory_mb)
        self._budget_s = settings.analysis_timeout_s * settings.analysis_budget_share
        self.spec = ToolSpec(
            name="code_analyzer",
            description=(
                "Static call graph of a project (languages: "
                + ", ".join(a.language for a in self._analyzers)
                + ") and the call paths from a source function to a target function, as JSON and as a "
                "Mermaid diagram; functions passed as arguments are callback edges; unresolvable calls and "
                "files with syntax errors are listed, and `warnings` says why no path was found. Package "
                "roots (src/ layouts, several packages) are found from the project's imports."
            ),
            args_model=AnalyzeArgs,
            result_model=AnalyzeResult,
            timeout_s=settings.analysis_timeout_s,
            limits={"max_files": MAX_FILES, "memory_mb": settings.analysis_memory_mb},
        )

    async def run(self, args: AnalyzeArgs, context: ToolContext) -> AnalyzeResult:
        # The check and the walk both happen while no sandbox runs in the workspace, so code there cannot swap
        # a checked folder for a symlink before the walk.
        async with context.sides.use("host"):
            root = confine(args.path, context.workspace, context.read_only_roots, write=False)
            if not root.exists():
                raise InvalidArguments(f"code_analyzer: {args.path!r} does not exist")
            found = await run_isolated(
                "code_analyzer",
                self._limits,
                _analysed_json,
                root,
                args.source,
                args.target,
                self._analyzers,
                self._budget_s,
            )
            return AnalyzeResult.model_validate_json(found)
