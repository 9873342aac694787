"""What a language analyser is: a way to turn a project's files into a CallGraph, optionally within a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from toolbox.code_analyzer.model import CallGraph

__all__ = ["BoundedAnalyzer", "Deadline", "LanguageAnalyzer"]


@dataclass(frozen=True)
class Deadline:
    """A point in time after which an analysis stops and returns what it has; built in the process that runs
    the analysis, so waiting for a worker does not spend it."""

    budget_s: float
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=0.0)

    @classmethod
    def after(cls, budget_s: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(budget_s=budget_s, clock=clock, start=clock())

    @classmethod
    def never(cls) -> Deadline:
        return cls(budget_s=float("inf"))

    def expired(self, share: float = 1.0) -> bool:
        """Whether `share` of the budget is spent: the steps of an analysis each get their part, so a step
        cut short still leaves time for the ones that make its work usable."""
        return self.budget_s != float("inf") and self.clock() - self.start >= self.budget_s * share


class LanguageAnalyzer(Protocol):
    @property
    def language(self) -> str: ...

    @property
    def extensions(self) -> tuple[str, ...]:
        """File name endings this analyser reads, e.g. ('.py',)."""
        ...

    def analyse(self, root: Path, files: Sequence[Path]) -> CallGraph:
        """The call graph of `files` (all under `root`); unreadable files go into `errors`, not exceptions."""
        ...


@runtime_checkable
class BoundedAnalyzer(Protocol):
    """An analyser that can stop early: when `deadline` expires it returns the graph so far, `partial` set."""

    def analyse_until(self, root: Path, files: Sequence[Path], deadline: Deadline) -> CallGraph: ...
