"""Excerpts of step outputs: what matters for the task, within the bound, in a form that can still be checked."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.artefacts.analysis import PATH, large_analysis
from toolbox import ToolSettings, build_registry, check_result
from toolbox.code_analyzer.model import AnalyzeResult
from troupe.excerpts import NOTE_KEY, excerpt, json_excerpt, size_of, text_excerpt

BOUNDS = [500, 2_000, 8_000, 30_000]
ANALYZER = next(
    s for s in build_registry(ToolSettings(), entry_points=False).specs() if s.name == "code_analyzer"
)


def test_small_outputs_are_shown_whole() -> None:
    small: dict[str, Any] = {"status_code": 200, "headers": {"a": "b"}, "body": "<html>"}
    assert excerpt("http_client", small, 8_000) == small
    assert excerpt("python_exec", "hello", 8_000) == "hello"
    assert excerpt("code_analyzer", large_analysis(5, 2), 100_000) == large_analysis(5, 2)


@pytest.mark.parametrize("bound", BOUNDS)
def test_text_keeps_its_head_and_tail_within_the_bound(bound: int) -> None:
    text = "HEAD" + "x" * 200_000 + "TAIL"
    shown = text_excerpt(text, bound)
    assert len(shown) <= bound
    assert shown.startswith("HEADx") and shown.endswith("xTAIL")
    assert "characters of 200,008 left out" in shown


@pytest.mark.parametrize("bound", BOUNDS)
def test_json_keeps_every_top_level_key_with_shorter_values_and_says_what_was_cut(bound: int) -> None:
    output: dict[str, Any] = {
        "stdout": "o" * 100_000,
        "stderr": "",
        "exit_code": 0,
        "rows": [{"id": i, "name": f"n{i}"} for i in range(5_000)],
    }
    shown = json_excerpt(output, bound)
    assert isinstance(shown, dict)
    assert size_of(shown) <= bound
    assert set(shown) == {"stdout", "stderr", "exit_code", "rows", NOTE_KEY}
    assert shown["exit_code"] == 0 and isinstance(shown["stdout"], str) and isinstance(shown["rows"], list)
    assert "stdout" in str(shown[NOTE_KEY]) and "of 5,000 items" in str(shown[NOTE_KEY])


def test_json_with_thousands_of_top_level_keys_is_still_bounded() -> None:
    output: dict[str, Any] = {f"key-{i}": "v" * 50 for i in range(20_000)}
    shown = json_excerpt(output, 2_000)
    assert isinstance(shown, dict) and size_of(shown) <= 2_000
    assert "of 20,000 top-level keys shown" in str(shown[NOTE_KEY])


@pytest.mark.parametrize("bound", BOUNDS)
def test_a_call_graph_keeps_the_paths_and_their_edges_not_the_whole_graph(bound: int) -> None:
    output = large_analysis()
    shown = excerpt("code_analyzer", output, bound)
    assert isinstance(shown, dict)
    assert size_of(shown) <= max(bound, 1_000) + 600  # the paths and the note are never cut
    assert size_of(output) > 1_000_000
    assert shown["paths"] == [PATH]
    graph: Any = shown["graph"]
    assert [(e["caller"], e["callee"]) for e in graph["edges"]] == [(PATH[0], PATH[1]), (PATH[1], PATH[2])]
    if bound >= 2_000:  # below, only the paths and their edges fit
        assert {f["name"] for f in graph["functions"]} == set(PATH)
    assert "5,003 graph functions" in str(shown[NOTE_KEY]) and "2,000 unresolved" in str(shown[NOTE_KEY])
    assert isinstance(shown["unresolved"], list) and isinstance(shown["errors"], list)


@pytest.mark.parametrize("bound", BOUNDS)
def test_a_call_graph_excerpt_still_has_the_analyzers_result_form(bound: int) -> None:
    shown = excerpt("code_analyzer", large_analysis(), bound)
    assert isinstance(shown, dict)
    assert isinstance(check_result(ANALYZER, shown), AnalyzeResult)


def test_a_call_graph_excerpt_shows_errors_and_unresolved_calls_when_there_is_room() -> None:
    shown: Any = excerpt("code_analyzer", large_analysis(unresolved=3), 8_000)
    assert shown["errors"] == [{"file": "app/bad.py", "line": 3, "message": "invalid syntax"}]
    assert len(shown["unresolved"]) == 3
