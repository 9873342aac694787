"""What a language analyser is: a way to turn a project's files into a CallGraph."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from toolbox.code_analyzer.model import CallGraph

__all__ = ["LanguageAnalyzer"]


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
