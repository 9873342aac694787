"""Versioned prompt files (`<name>.v<version>.md`) and the tool catalogue rendered into the planner prompt."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from functools import cache
from importlib import resources
from string import Template
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

__all__ = [
    "ModelToolDeclaration",
    "ToolDeclaration",
    "ToolLike",
    "load_prompt",
    "render_prompt",
    "render_tool_catalogue",
]


@runtime_checkable
class ToolDeclaration(Protocol):
    """What the planner needs to know of a tool; the tool registry's declarations fit it as they are."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def args_schema(self) -> Mapping[str, Any]: ...


@runtime_checkable
class ModelToolDeclaration(Protocol):
    """The same, with the arguments as a pydantic model (the tool registry's `ToolSpec`)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def args_model(self) -> type[BaseModel]: ...


ToolLike = ToolDeclaration | ModelToolDeclaration | tuple[str, str, Mapping[str, Any]]


@cache
def load_prompt(name: str, version: int = 1) -> Template:
    """The template of `<name>.v<version>.md` shipped in this package; a missing version is an error."""
    path = resources.files(__package__).joinpath(f"{name}.v{version}.md")
    if not path.is_file():
        raise FileNotFoundError(f"no prompt {name!r} version {version} (looked for {path.name})")
    return Template(path.read_text(encoding="utf-8"))


def render_prompt(name: str, version: int = 1, **values: str) -> str:
    """The prompt with every `$placeholder` filled; a placeholder left without a value is an error."""
    return load_prompt(name, version).substitute(values).strip() + "\n"


def render_tool_catalogue(tools: Iterable[ToolLike], allowed: Collection[str] | None = None) -> str:
    """One section per tool (only the `allowed` ones, when given), in name order so the prompt, and so the
    cache key, does not depend on the registry's iteration order."""
    triples = (_as_triple(t) for t in tools)
    entries = sorted((t for t in triples if allowed is None or t[0] in allowed), key=lambda t: t[0])
    if not entries:
        return "(no tools are available)"
    return "\n\n".join(
        f"### {name}\n{description.strip()}\nArguments (JSON schema): {json.dumps(schema, sort_keys=True)}"
        for name, description, schema in entries
    )


def _as_triple(tool: ToolLike) -> tuple[str, str, Mapping[str, Any]]:
    if isinstance(tool, tuple):
        return tool
    if isinstance(tool, ModelToolDeclaration):
        return tool.name, tool.description, _model_schema(tool.args_model)
    return tool.name, tool.description, tool.args_schema


@cache
def _model_schema(model: type[BaseModel]) -> Mapping[str, Any]:
    """Built once per model: pydantic builds a schema afresh on every call, milliseconds each, and the
    catalogue is rendered for every plan (read-only here: it is only serialised)."""
    return model.model_json_schema()
