from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from troupe.llm.prompts import ToolDeclaration, ToolLike, load_prompt, render_prompt, render_tool_catalogue


@dataclass(frozen=True)
class Declared:
    name: str
    description: str
    args_schema: Mapping[str, Any] = field(default_factory=dict)


def test_the_catalogue_lists_declared_tools_by_name_with_their_argument_schemas() -> None:
    tools: list[ToolLike] = [
        Declared(
            "python_exec", "Run Python.", {"type": "object", "properties": {"code": {"type": "string"}}}
        ),
        ("math", "Evaluate an expression.", {"type": "object"}),
    ]
    assert isinstance(tools[0], ToolDeclaration)
    assert render_tool_catalogue(tools) == (
        '### math\nEvaluate an expression.\nArguments (JSON schema): {"type": "object"}\n\n'
        "### python_exec\nRun Python.\nArguments (JSON schema): "
        '{"properties": {"code": {"type": "string"}}, "type": "object"}'
    )


class MathArgs(BaseModel):
    expression: str


@dataclass(frozen=True)
class Spec:
    """Shaped like the tool registry's ToolSpec: arguments as a pydantic model."""

    name: str
    description: str
    args_model: type[BaseModel]


def test_declarations_with_an_args_model_render_its_json_schema() -> None:
    rendered = render_tool_catalogue([Spec("math", "Evaluate.", MathArgs)])
    assert rendered.startswith("### math\nEvaluate.\nArguments (JSON schema): {")
    assert '"expression": {"title": "Expression", "type": "string"}' in rendered


def test_the_catalogue_keeps_only_allowed_tools_and_says_when_there_are_none() -> None:
    tools = [Declared("math", "m"), Declared("web_search", "w")]
    assert "web_search" not in render_tool_catalogue(tools, allowed=["math"])
    assert render_tool_catalogue(tools, allowed=[]) == "(no tools are available)"


def test_the_planner_prompt_is_filled_from_its_versioned_file() -> None:
    prompt = render_prompt("planner", 1, tool_catalogue="### math", task="evaluate 1+1", revision="")
    assert "### math" in prompt and prompt.rstrip().endswith("evaluate 1+1")
    assert "$" not in prompt


def test_a_missing_value_or_version_is_an_error() -> None:
    with pytest.raises(KeyError):
        render_prompt("reviewer", 1, task="t")
    with pytest.raises(FileNotFoundError, match="version 99"):
        load_prompt("planner", 99)
