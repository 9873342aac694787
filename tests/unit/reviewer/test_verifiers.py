"""Each verifier on an output it can confirm and on one it must refute."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import JsonValue

from reviewer_svc.verifiers import blocking, verify
from schemas import ArtefactRef, Finding, FindingStatus, Plan, PlanStep, StepResult, StepStatus

ARTEFACT = ArtefactRef(id="a" * 32, size=10, media_type="application/json", sha256="0" * 64)


def checked(
    tool: str,
    args: dict[str, JsonValue],
    output: JsonValue,
    *,
    status: StepStatus = StepStatus.SUCCEEDED,
    artefact: ArtefactRef | None = None,
) -> dict[str, Finding]:
    plan = Plan(steps=[PlanStep(id="s1", tool=tool, args=args)])
    result = StepResult(step_id="s1", tool=tool, status=status, output=output, artefact=artefact)
    return {f.check: f for f in verify(plan, [result])}


def analysis(paths: list[list[str]], edges: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "language": "python",
        "sources": ["app.main"],
        "targets": ["app.data.process"],
        "paths": paths,
        "mermaid": "",
        "unresolved": [],
        "errors": [],
        "graph": {
            "language": "python",
            "root": "/src",
            "edges": [{"caller": a, "callee": b, "file": "x.py", "line": 1} for a, b in edges],
        },
    }


ASKED: dict[str, JsonValue] = {"path": ".", "source": "main()", "target": "process"}
PATH = ["app.main", "app.core.run", "app.data.process"]


def test_a_path_whose_every_edge_is_in_the_graph_and_that_joins_the_requested_functions_is_ok() -> None:
    found = checked("code_analyzer", ASKED, analysis([PATH], [(PATH[0], PATH[1]), (PATH[1], PATH[2])]))
    assert {c: f.status for c, f in found.items()} == {
        "paths_found": FindingStatus.OK,
        "path_edges": FindingStatus.OK,
        "source": FindingStatus.OK,
        "target": FindingStatus.OK,
    }
    assert found["path_edges"].evidence["edges_checked"] == [[PATH[0], PATH[1]], [PATH[1], PATH[2]]]
    assert found["path_edges"].id == "s1:path_edges"


def test_a_claimed_edge_missing_from_the_graph_fails_and_names_it() -> None:
    found = checked("code_analyzer", ASKED, analysis([PATH], [(PATH[0], PATH[1])]))
    assert found["path_edges"].status is FindingStatus.FAILED
    assert found["path_edges"].evidence["edges_absent"] == [[PATH[1], PATH[2]]]
    assert "app.core.run -> app.data.process" in found["path_edges"].detail


def test_an_empty_paths_list_fails() -> None:
    found = checked("code_analyzer", ASKED, analysis([], []))
    assert list(found) == ["paths_found"]
    assert found["paths_found"].status is FindingStatus.FAILED
    assert "no call path was found (source 'main()' to target 'process')" in found["paths_found"].detail


def test_paths_that_do_not_join_the_requested_source_and_target_fail() -> None:
    path = ["app.other", "app.core.run", "app.data.process_more"]
    found = checked("code_analyzer", ASKED, analysis([path], [(path[0], path[1]), (path[1], path[2])]))
    assert found["path_edges"].status is FindingStatus.OK
    assert found["source"].status is FindingStatus.FAILED
    assert found["target"].status is FindingStatus.FAILED
    assert found["source"].evidence["paths_off"] == [path]


def test_a_result_without_a_graph_is_unverifiable_and_names_its_artefact() -> None:
    output = analysis([PATH], [])
    del output["graph"]
    found = checked("code_analyzer", ASKED, output, artefact=ARTEFACT)
    assert found["path_edges"].status is FindingStatus.UNVERIFIABLE
    assert found["path_edges"].evidence["artefact_id"] == ARTEFACT.id


def test_an_artefact_that_could_not_be_read_back_is_unverifiable() -> None:
    found = checked("code_analyzer", ASKED, None, artefact=ARTEFACT)
    assert found["output"].status is FindingStatus.UNVERIFIABLE
    assert ARTEFACT.id in found["output"].detail


@pytest.mark.parametrize(
    ("output", "timeout", "exit_code"),
    [
        ({"stdout": "1\n", "stderr": "", "exit_code": 0}, FindingStatus.OK, FindingStatus.OK),
        ({"stdout": "", "stderr": "boom", "exit_code": 1}, FindingStatus.OK, FindingStatus.FAILED),
        ({"stdout": "", "stderr": "", "exit_code": None, "timed_out": True}, FindingStatus.FAILED, None),
    ],
)
def test_python_exec_checks_the_exit_code_and_the_timeout(
    output: JsonValue, timeout: FindingStatus, exit_code: FindingStatus | None
) -> None:
    found = checked("python_exec", {"code": "print(1)"}, output)
    assert found["timeout"].status is timeout
    assert found["exit_code"].status is (exit_code or FindingStatus.UNVERIFIABLE)


@pytest.mark.parametrize(("code", "status"), [(200, FindingStatus.OK), (404, FindingStatus.FAILED)])
def test_http_client_checks_the_status(code: int, status: FindingStatus) -> None:
    output: JsonValue = {"url": "https://example.com", "status_code": code, "headers": {}, "body": ""}
    found = checked("http_client", {"url": "https://example.com"}, output)
    assert found["status"].status is status
    assert found["status"].evidence["status_code"] == code


def test_a_file_read_exists_with_its_size() -> None:
    found = checked(
        "file_operations",
        {"op": "read", "path": "a.txt"},
        {"op": "read", "path": "a.txt", "content": "héllo"},
    )
    assert found["exists"].status is FindingStatus.OK
    assert found["exists"].evidence["size"] == 6


def test_a_read_without_content_is_unverifiable() -> None:
    found = checked("file_operations", {"op": "read", "path": "a.txt"}, {"op": "read", "path": "a.txt"})
    assert found["exists"].status is FindingStatus.UNVERIFIABLE


@pytest.mark.parametrize(("written", "status"), [(5, FindingStatus.OK), (3, FindingStatus.FAILED)])
def test_a_write_reports_the_size_asked_for(written: int, status: FindingStatus) -> None:
    args: dict[str, JsonValue] = {"op": "write", "path": "a.txt", "content": "hello"}
    found = checked("file_operations", args, {"op": "write", "path": "a.txt", "bytes_written": written})
    assert found["size"].status is status
    assert found["size"].evidence["expected"] == 5


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (1024, FindingStatus.OK),
        (0.5, FindingStatus.OK),
        (float("inf"), FindingStatus.FAILED),
        ("x", FindingStatus.FAILED),
    ],
)
def test_math_checks_the_value_is_a_finite_number(value: JsonValue, status: FindingStatus) -> None:
    assert checked("math", {"expression": "2**10"}, {"value": value})["finite"].status is status


def test_steps_that_did_not_succeed_and_tools_without_checks_give_no_findings() -> None:
    assert checked("math", {}, None, status=StepStatus.FAILED) == {}
    assert checked("ai_tool", {"prompt": "hi"}, {"text": ""}) == {}


def test_blocking_keeps_failed_and_unverifiable_findings() -> None:
    found = checked("python_exec", {}, {"stdout": "", "stderr": "", "exit_code": None, "timed_out": True})
    assert [f.check for f in blocking(found.values())] == ["timeout", "exit_code"]
