"""What a tool is, and the registry the planner's prompt, the plan validator and the executor read.

A tool is any object with a `spec` and an async `run(args, context)`; the spec's pydantic models are the
contract. Third-party tools register through the `troupe.tools` entry-point group: the entry point names a
factory that takes the ToolSettings and returns a tool (or names a ready tool object).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from toolbox.errors import InvalidArguments, InvalidResult, ToolNotFound, ToolTimeout
from toolbox.settings import ToolSettings
from toolbox.workspace_sides import WorkspaceSides

__all__ = [
    "ENTRY_POINT_GROUP",
    "Complete",
    "Registry",
    "Tool",
    "ToolContext",
    "ToolSpec",
    "check_result",
    "run_tool",
    "validate_args",
]

ENTRY_POINT_GROUP = "troupe.tools"

ArgsT = TypeVar("ArgsT", bound=BaseModel, contravariant=True)
ResultT = TypeVar("ResultT", bound=BaseModel, covariant=True)


class ToolSpec(BaseModel):
    """A tool's declaration: enough for an LLM to call it and for a validator to check the call."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    description: str = Field(min_length=1)
    args_model: type[BaseModel]
    result_model: type[BaseModel]
    timeout_s: float = Field(gt=0)
    limits: dict[str, JsonValue] = Field(default_factory=dict)

    def describe(self) -> dict[str, JsonValue]:
        """The JSON form a planner prompt shows: name, description, argument and result schemas, limits."""
        return {
            "name": self.name,
            "description": self.description,
            "args": self.args_model.model_json_schema(),
            "result": self.result_model.model_json_schema(),
            "timeout_s": self.timeout_s,
            "limits": self.limits,
        }


# A prompt -> text call to the task's language model: the ai_tool role of the LLM router, bound to one task.
Complete = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class ToolContext:
    """What the executor knows about the step: where the task's files are, what else it may read, and the
    task's own language model (accounted to the task's usage and budget)."""

    workspace: Path
    read_only_roots: tuple[Path, ...] = field(default_factory=tuple)
    complete: Complete | None = field(default=None, compare=False)
    # One per task's workspace: host-side file tools and sandbox runs take turns in it.
    sides: WorkspaceSides = field(default_factory=WorkspaceSides, compare=False)
    # The hosts network tools may reach for this task (its tenant's egress allowlist); None: any public host.
    egress_hosts: tuple[str, ...] | None = None


@runtime_checkable
class Tool(Protocol[ArgsT, ResultT]):
    @property
    def spec(self) -> ToolSpec: ...

    async def run(self, args: ArgsT, context: ToolContext) -> ResultT: ...


ToolFactory = Callable[[ToolSettings], Tool[Any, Any]]


class Registry:
    """Tools by name. Registering a second tool under a taken name is an error, not an override."""

    def __init__(self, tools: Iterable[Tool[Any, Any]] = ()) -> None:
        self._tools: dict[str, Tool[Any, Any]] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: Tool[Any, Any]) -> None:
        name = tool.spec.name
        if name in self._tools:
            raise ValueError(f"a tool named {name!r} is already registered")
        self._tools[name] = tool

    def get(self, name: str) -> Tool[Any, Any]:
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(sorted(self._tools)) or "none"
            raise ToolNotFound(f"no tool named {name!r} (registered: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return sorted(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [self._tools[n].spec for n in self.names()]

    def load_entry_points(
        self, settings: ToolSettings, found: Iterable[EntryPoint] | None = None
    ) -> list[str]:
        """Register every tool of the `troupe.tools` group; returns the names added."""
        added = []
        for ep in entry_points(group=ENTRY_POINT_GROUP) if found is None else found:
            target = ep.load()
            tool = target if isinstance(target, Tool) or not callable(target) else target(settings)
            if not isinstance(tool, Tool):
                raise TypeError(f"entry point {ep.name!r} ({ep.value}) did not give a tool")
            self.register(tool)
            added.append(tool.spec.name)
        return added


def _summary(error: ValidationError) -> str:
    parts = []
    for e in error.errors(include_url=False):
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def validate_args(spec: ToolSpec, args: Mapping[str, Any]) -> BaseModel:
    """The tool's Args model built from raw (JSON) arguments, or InvalidArguments saying what is wrong."""
    try:
        return spec.args_model.model_validate(dict(args))
    except ValidationError as e:
        raise InvalidArguments(f"{spec.name}: invalid arguments: {_summary(e)}") from None


def check_result(spec: ToolSpec, output: Mapping[str, Any]) -> BaseModel:
    """The tool's Result model built from a (JSON) output, or InvalidResult saying why it is not one."""
    try:
        return spec.result_model.model_validate(dict(output))
    except ValidationError as e:
        raise InvalidResult(
            f"{spec.name}: output is not a {spec.result_model.__name__}: {_summary(e)}"
        ) from None


# Tools enforce their own (argument-dependent) timeouts; this backstop only catches a tool that hangs anyway.
_BACKSTOP_FACTOR = 2.0


async def run_tool(
    registry: Registry, name: str, args: Mapping[str, Any], context: ToolContext
) -> dict[str, JsonValue]:
    """Validate, run and check one tool call; the JSON result, or a ToolError with the reason."""
    tool = registry.get(name)
    spec = tool.spec
    parsed = validate_args(spec, args)
    backstop = spec.timeout_s * _BACKSTOP_FACTOR
    if "max_timeout_s" in spec.limits and isinstance(spec.limits["max_timeout_s"], int | float):
        backstop = max(backstop, float(spec.limits["max_timeout_s"]) * _BACKSTOP_FACTOR)
    try:
        async with asyncio.timeout(backstop):
            result = await tool.run(parsed, context)
    except TimeoutError:
        raise ToolTimeout(f"{name}: no result after {backstop:g} s; it was cancelled") from None
    if not isinstance(result, spec.result_model):
        raise InvalidResult(f"{name}: returned {type(result).__name__}, not {spec.result_model.__name__}")
    dumped: dict[str, JsonValue] = result.model_dump(mode="json")
    return dumped
