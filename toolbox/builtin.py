"""The tools Troupe ships, wired from settings: the composition root the executor and the planner call."""

from __future__ import annotations

from toolbox.ai_tool import AiTool, Complete
from toolbox.code_analyzer import CodeAnalyzer
from toolbox.file_operations import FileOperations
from toolbox.http_client import HttpClient
from toolbox.math_tool import MathTool
from toolbox.python_exec import PythonExec
from toolbox.registry import Registry
from toolbox.settings import ToolSettings
from toolbox.web_search import WebSearch

__all__ = ["build_registry"]


def build_registry(
    settings: ToolSettings, *, complete: Complete | None = None, entry_points: bool = True
) -> Registry:
    """Every built-in tool, plus those installed under the `troupe.tools` entry-point group.

    Nothing connects here: the sandbox backend is chosen on python_exec's first run.
    """
    registry = Registry(
        [
            PythonExec(settings),
            FileOperations(settings),
            HttpClient(settings),
            WebSearch(settings),
            MathTool(settings),
            CodeAnalyzer(settings),
            AiTool(settings, complete),
        ]
    )
    if entry_points:
        registry.load_entry_points(settings)
    return registry
