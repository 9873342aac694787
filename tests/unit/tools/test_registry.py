from __future__ import annotations

import asyncio
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from tests.unit.tools.example_plugin import Echo, EchoArgs, EchoResult
from toolbox import (
    ENTRY_POINT_GROUP,
    InvalidArguments,
    InvalidResult,
    Registry,
    ToolContext,
    ToolNotFound,
    ToolSettings,
    ToolSpec,
    ToolTimeout,
    build_registry,
    check_result,
    run_tool,
    validate_args,
)


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_registered_tool_is_found_by_name_and_listed_in_specs() -> None:
    registry = Registry([Echo()])
    assert registry.get("echo").spec.name == "echo"
    assert [s.name for s in registry.specs()] == ["echo"]
    assert "echo" in registry


def test_unknown_tool_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ToolNotFound, match=r"no tool named 'nope' \(registered: echo\)"):
        Registry([Echo()]).get("nope")


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        Registry([Echo(), Echo()])


def test_spec_describes_schemas_and_limits_for_the_planner_prompt() -> None:
    described: Any = Echo().spec.describe()
    assert described["name"] == "echo"
    assert described["args"]["properties"]["text"]["type"] == "string"
    assert "echoed" in described["result"]["properties"]


def test_validate_args_gives_the_model_or_says_what_is_wrong() -> None:
    spec = Echo().spec
    assert validate_args(spec, {"text": "hi"}) == EchoArgs(text="hi")
    with pytest.raises(InvalidArguments, match="echo: invalid arguments: text: Field required"):
        validate_args(spec, {})


def test_check_result_accepts_the_result_form_only() -> None:
    spec = Echo().spec
    assert check_result(spec, {"echoed": "x"}) == EchoResult(echoed="x")
    with pytest.raises(InvalidResult, match="not a EchoResult: echoed"):
        check_result(spec, {"text": "x"})


def test_entry_points_register_factories_and_ready_tools() -> None:
    registry = Registry()
    added = registry.load_entry_points(
        ToolSettings(),
        [
            _ep("echo", "tests.unit.tools.example_plugin:make_echo"),
            _ep("echo_ready", "tests.unit.tools.example_plugin:ready_tool"),
        ],
    )
    assert added == ["echo", "echo_ready"]
    assert registry.names() == ["echo", "echo_ready"]


def test_an_entry_point_that_gives_no_tool_is_an_error() -> None:
    with pytest.raises(TypeError, match="did not give a tool"):
        Registry().load_entry_points(
            ToolSettings(), [_ep("bad", "tests.unit.tools.example_plugin:not_a_tool")]
        )


async def test_run_tool_validates_runs_and_returns_json(tmp_path: Path) -> None:
    out = await run_tool(Registry([Echo()]), "echo", {"text": "hi"}, ToolContext(workspace=tmp_path))
    assert out == {"echoed": "hi"}


async def test_run_tool_stops_a_tool_that_hangs_past_its_backstop(tmp_path: Path) -> None:
    class Hangs(Echo):
        def __init__(self) -> None:
            self.spec = ToolSpec(
                name="hangs", description="d", args_model=EchoArgs, result_model=EchoResult, timeout_s=0.05
            )

        async def run(self, args: EchoArgs, context: ToolContext) -> EchoResult:
            await asyncio.sleep(10)
            raise AssertionError("not reached")

    with pytest.raises(ToolTimeout, match=r"hangs: no result after 0\.1 s"):
        await run_tool(Registry([Hangs()]), "hangs", {"text": "x"}, ToolContext(workspace=tmp_path))


def test_builtin_registry_has_the_agreed_tools_and_argument_names(tool_settings: ToolSettings) -> None:
    registry = build_registry(tool_settings, entry_points=False)
    assert registry.names() == [
        "ai_tool",
        "code_analyzer",
        "file_operations",
        "http_client",
        "math",
        "python_exec",
        "web_search",
    ]
    args = {s.name: set(s.args_model.model_fields) for s in registry.specs()}
    assert args == {
        "ai_tool": {"prompt"},
        "code_analyzer": {"path", "source", "target"},
        "file_operations": {"op", "path", "content", "pattern"},
        "http_client": {"url", "method", "headers", "body"},
        "math": {"expression"},
        "python_exec": {"code", "timeout_s"},
        "web_search": {"query", "max_results"},
    }
    results = {s.name: set(s.result_model.model_fields) for s in registry.specs()}
    assert {"paths", "mermaid", "unresolved", "errors", "graph"} <= results["code_analyzer"]
    assert {"stdout", "stderr", "exit_code", "timed_out", "truncated"} <= results["python_exec"]
    assert {"status_code", "headers", "body", "truncated"} <= results["http_client"]
    assert results["math"] == {"value"}
    assert results["web_search"] >= {"results"}
    assert results["ai_tool"] == {"text"}


def test_builtin_specs_are_json_describable(tool_settings: ToolSettings) -> None:
    for spec in build_registry(tool_settings, entry_points=False).specs():
        described = spec.describe()
        assert described["description"]
        assert described["timeout_s"] == spec.timeout_s
