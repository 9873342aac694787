"""Static code analysis: a language-neutral call graph, call paths and Mermaid output; Python and JavaScript/TypeScript built in."""

from toolbox.code_analyzer.base import LanguageAnalyzer
from toolbox.code_analyzer.javascript import JavaScriptAnalyzer
from toolbox.code_analyzer.model import AnalyzeArgs, AnalyzeResult, CallGraph
from toolbox.code_analyzer.python import PythonAnalyzer
from toolbox.code_analyzer.tool import CodeAnalyzer, analyse_project

__all__ = [
    "AnalyzeArgs",
    "AnalyzeResult",
    "CallGraph",
    "CodeAnalyzer",
    "JavaScriptAnalyzer",
    "LanguageAnalyzer",
    "PythonAnalyzer",
    "analyse_project",
]
