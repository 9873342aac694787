"""The call-graph evaluation's case file (eval/cases.toml) and its scoring rule (eval/scoring.py)."""

from __future__ import annotations

import json

import pytest
from pydantic import JsonValue, ValidationError

from bench.llm import call_graph_plan, call_graph_review
from eval.cases import Case, CaseFile, load_cases
from eval.report import gap
from eval.scoring import judge, path_matches, paths_in


def test_the_case_file_holds_at_least_30_cases_on_8_pypi_and_2_npm_projects() -> None:
    cases = load_cases()
    registries = [p.registry for p in cases.project]
    assert len(cases.case) >= 30
    assert registries.count("pypi") >= 8
    assert registries.count("npm") >= 2
    assert all(any(c.project == p.name for c in cases.case) for p in cases.project)


def case(**changes: object) -> dict[str, object]:
    return {
        "id": "x-one",
        "project": "x",
        "source": "pkg.a.main",
        "target": "process",
        "expected": [["pkg.a.main", "pkg.b.step", "pkg.c.process"]],
    } | changes


def test_an_expected_path_must_run_from_the_source_to_the_target() -> None:
    Case.model_validate(case())
    with pytest.raises(ValidationError, match="must start at"):
        Case.model_validate(case(expected=[["pkg.b.step", "pkg.c.process"]]))
    with pytest.raises(ValidationError, match="must start at"):
        Case.model_validate(case(expected=[["pkg.a.main", "pkg.c.processing"]]))
    with pytest.raises(ValidationError, match="source and a target"):
        Case.model_validate(case(expected=[["pkg.a.main"]]))


def test_a_case_file_rejects_unknown_projects_and_repeated_ids() -> None:
    project = {"name": "x", "registry": "pypi", "version": "1.0", "layout": "flat"}
    CaseFile.model_validate({"project": [project], "case": [case()]})
    with pytest.raises(ValidationError, match="not listed"):
        CaseFile.model_validate({"project": [project], "case": [case(project="y")]})
    with pytest.raises(ValidationError, match="repeat"):
        CaseFile.model_validate({"project": [project], "case": [case(), case()]})
    with pytest.raises(ValidationError):
        CaseFile.model_validate({"project": [project | {"registry": "cargo"}], "case": [case()]})


def test_a_path_matches_when_equal_or_with_hops_added_between_the_expected_ones() -> None:
    expected = ["a.main", "b.step", "c.process"]
    assert path_matches(expected, ["a.main", "b.step", "c.process"])
    assert path_matches(expected, ["a.main", "w.wrapper", "b.step", "c.process"])


def test_a_path_does_not_match_with_a_hop_missing_out_of_order_or_other_ends() -> None:
    expected = ["a.main", "b.step", "c.process"]
    assert not path_matches(expected, ["a.main", "c.process"])
    assert not path_matches(expected, ["a.main", "c.process", "b.step"])
    assert not path_matches(expected, ["z.start", "a.main", "b.step", "c.process"])
    assert not path_matches(expected, ["a.main", "b.step", "c.process", "d.more"])
    assert not path_matches(expected, ["src.a.main", "src.b.step", "src.c.process"])


def test_paths_are_read_from_the_output_the_excerpt_beside_an_artefact_or_a_review() -> None:
    found: list[JsonValue] = [["a.main", "c.process"]]
    assert paths_in({"paths": found, "mermaid": ""}) == found
    assert paths_in({"artefact": {"id": "x"}, "excerpt": {"paths": found}}) == found
    assert paths_in({"call_sequences": found}) == found
    assert paths_in({"value": 2}) is None
    assert paths_in("a.main -> c.process") is None


def test_a_case_is_right_only_when_the_task_succeeded_with_an_expected_path() -> None:
    expected = [["a.main", "c.process"]]
    assert judge(
        "succeeded", None, {"paths": [["x.f", "c.process"], ["a.main", "c.process"]]}, expected
    ).right
    failed = judge(
        "failed", "code_analyzer: no function matches", {"paths": [["a.main", "c.process"]]}, expected
    )
    assert not failed.right and "no function matches" in failed.reason
    assert judge(None, None, None, expected).reason.startswith("no end heard")
    assert judge("succeeded", None, {"paths": []}, expected).reason == "no call path found"
    wrong = judge("succeeded", None, {"paths": [["a.main", "b.other"]]}, expected)
    assert not wrong.right and "a.main -> b.other" in wrong.reason
    src = judge("succeeded", None, {"paths": [["src.a.main", "src.c.process"]]}, expected)
    assert not src.right and "src layout" in src.reason


def test_the_scripted_planner_asks_code_analyzer_what_the_task_asks() -> None:
    prompt = (
        "## Tools\n...\n## Task\nGive me the call sequence from pkg.a.main to Command.parse in /tmp/p\n\n"
    )
    plan = call_graph_plan(prompt)
    assert plan is not None
    assert plan["steps"][0]["tool"] == "code_analyzer"
    assert plan["steps"][0]["args"] == {"path": "/tmp/p", "source": "pkg.a.main", "target": "Command.parse"}
    assert call_graph_plan("## Task\nadd one and one\n") is None


def test_the_scripted_reviewer_approves_found_paths_and_fails_without_any() -> None:
    def prompt(output: dict[str, object]) -> str:
        shown = [{"step_id": "callgraph", "tool": "code_analyzer", "output": json.dumps(output)}]
        return f'## Plan\n"tool": "code_analyzer"\n## Step results\n{json.dumps(shown, indent=2)}'

    approved = call_graph_review(prompt({"paths": [["a.main", "b.f"], ["a.main", "c.g", "b.f"]]}))
    assert approved["verdict"] == "approved"
    assert approved["final_result"] == {"paths": [["a.main", "b.f"], ["a.main", "c.g", "b.f"]]}
    assert call_graph_review(prompt({"paths": []}))["verdict"] == "failed"


def test_a_failure_is_put_down_to_the_gap_its_reason_names() -> None:
    assert gap("the expected path, but named from the `src/` folder (src layout not recognised)").startswith(
        "src layout"
    )
    assert gap("task failed: code_analyzer crashed: RecursionError: maximum recursion depth") == (
        "the analyser crashes (RecursionError) on the project"
    )
    assert gap("task failed: code_analyzer: no source files of a known language (python)") == (
        "no JavaScript/TypeScript analyser"
    )
    assert gap("no call path found") == "a call on the way not resolved"
    assert gap("task cancelled: by request") == "other"
