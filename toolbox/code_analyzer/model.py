"""The language-neutral call graph every language analyser produces, and the tool's argument/result models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnalyzeArgs",
    "AnalyzeResult",
    "CallEdge",
    "CallGraph",
    "EdgeKind",
    "ExternalCall",
    "FileError",
    "Function",
    "UnresolvedCall",
]

FunctionKind = Literal["module", "function", "method", "class"]
# "callback": the function is passed as an argument (`map(f, xs)`, `Thread(target=f)`), to be called later.
# "override": `self.run()` in a class may run a subclass's own `run`, when self is an instance of that subclass.
EdgeKind = Literal["call", "callback", "override"]


class Function(BaseModel):
    """A callable unit, named by its qualified name (`package.module.Class.method`, `module.outer.inner`);
    a module's top-level code is a unit too, named by the module."""

    name: str
    kind: FunctionKind
    file: str
    line: int


class CallEdge(BaseModel):
    caller: str
    callee: str
    file: str
    line: int
    kind: EdgeKind = "call"


class ExternalCall(BaseModel):
    """A call that resolves to something outside the project (the standard library, a dependency, a builtin)."""

    caller: str
    callee: str
    line: int


class UnresolvedCall(BaseModel):
    """A call whose target cannot be known statically; reported, never guessed."""

    caller: str
    expression: str
    file: str
    line: int
    reason: str


class FileError(BaseModel):
    file: str
    line: int | None
    message: str


class CallGraph(BaseModel):
    language: str
    root: str
    files: int = 0
    functions: list[Function] = Field(default_factory=list)
    edges: list[CallEdge] = Field(default_factory=list)
    external: list[ExternalCall] = Field(default_factory=list)
    unresolved: list[UnresolvedCall] = Field(default_factory=list)
    errors: list[FileError] = Field(default_factory=list)
    package_roots: list[str] = Field(
        default_factory=list, description="folders module names are taken from (relative to root)"
    )
    entry_points: dict[str, str] = Field(
        default_factory=dict, description="command names (console scripts) and the function each runs"
    )
    aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="names functions are imported or assigned as, and what they stand for",
    )
    warnings: list[str] = Field(default_factory=list)
    partial: bool = Field(default=False, description="the time budget ran out; not every file was analysed")


class AnalyzeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1, description="the project directory (or one file), in the workspace or a read-only root"
    )
    source: str | None = Field(
        default=None,
        description=(
            "function the paths start at: 'main', 'main()', 'app.main.main', a console script's name, "
            "or 'python -m app' (the package's __main__)"
        ),
    )
    target: str | None = Field(default=None, description="function the paths end at, e.g. 'process_data'")


class AnalyzeResult(BaseModel):
    language: str
    sources: list[str] = Field(description="qualified names the source matched")
    targets: list[str] = Field(description="qualified names the target matched")
    paths: list[list[str]] = Field(description="call paths from a source to a target, shortest first")
    paths_truncated: bool = False
    mermaid: str
    unresolved: list[UnresolvedCall]
    errors: list[FileError]
    graph: CallGraph
    warnings: list[str] = Field(default_factory=list)
    partial: bool = False
