from __future__ import annotations

from pydantic import JsonValue

from schemas import Finding, FindingStatus, Plan, PlanStep, StepResult, StepStatus, Verdict
from troupe.llm import offline_review

PLAN = Plan(
    steps=[
        PlanStep(id="fetch", tool="http_client", args={"url": "https://example.com", "method": "GET"}),
        PlanStep(id="calc", tool="math", args={"expression": "1+1"}, depends_on=["fetch"]),
    ]
)
FETCHED: JsonValue = {"status_code": 200, "headers": {}, "body": "<html>"}


def result(
    step_id: str, tool: str, output: JsonValue, status: StepStatus = StepStatus.SUCCEEDED
) -> StepResult:
    return StepResult(step_id=step_id, tool=tool, status=status, output=output, error=None)


def test_approves_when_every_step_succeeded_with_the_expected_form_and_says_it_is_offline() -> None:
    review = offline_review(
        PLAN, [result("fetch", "http_client", FETCHED), result("calc", "math", {"value": 2})]
    )
    assert review.verdict is Verdict.APPROVED
    assert review.feedback.startswith("[offline reviewer] approved")
    assert "no LLM judged" in review.feedback
    assert review.final_result == {"value": 2}  # the output of the step nothing depends on


def test_fails_when_a_step_failed_or_is_missing() -> None:
    failed = StepResult(
        step_id="fetch", tool="http_client", status=StepStatus.FAILED, error="connection refused"
    )
    review = offline_review(PLAN, [failed])
    assert review.verdict is Verdict.FAILED
    assert review.feedback.startswith("[offline reviewer] failed")
    assert "step fetch (http_client) failed: connection refused" in review.feedback
    assert "step calc has no result" in review.feedback
    assert review.final_result is None


def test_fails_when_an_output_lacks_the_tools_expected_keys() -> None:
    review = offline_review(
        PLAN, [result("fetch", "http_client", {"body": "x"}), result("calc", "math", {"value": 2})]
    )
    assert review.verdict is Verdict.FAILED
    assert "step fetch (http_client) output does not have the expected form" in review.feedback


def test_uses_the_registrys_check_when_given() -> None:
    calls: list[str] = []

    def only_math_is_fine(tool: str, output: JsonValue) -> bool:
        calls.append(tool)
        return tool == "math"

    review = offline_review(
        PLAN,
        [result("fetch", "http_client", FETCHED), result("calc", "math", {"value": 2})],
        only_math_is_fine,
    )
    assert calls == ["http_client", "math"]
    assert review.verdict is Verdict.FAILED


def test_several_final_steps_give_their_outputs_by_id() -> None:
    plan = Plan(steps=[PlanStep(id="a", tool="math"), PlanStep(id="b", tool="file_operations")])
    review = offline_review(
        plan, [result("a", "math", {"value": 1}), result("b", "file_operations", ["x.py"])]
    )
    assert review.verdict is Verdict.APPROVED
    assert review.final_result == {"a": {"value": 1}, "b": ["x.py"]}


def test_a_failed_or_unverifiable_finding_fails_the_review_citing_it() -> None:
    def finding(check: str, status: FindingStatus) -> Finding:
        return Finding(
            id=f"calc:{check}", step_id="calc", tool="math", check=check, status=status, detail=check
        )

    results = [result("fetch", "http_client", FETCHED), result("calc", "math", {"value": 2})]
    fine = [finding("finite", FindingStatus.OK)]
    approved = offline_review(PLAN, results, findings=fine)
    assert (approved.verdict, approved.citations) == (Verdict.APPROVED, ["calc:finite"])
    refused = offline_review(PLAN, results, findings=[*fine, finding("other", FindingStatus.UNVERIFIABLE)])
    assert refused.verdict is Verdict.FAILED
    assert refused.citations == ["calc:other"]
    assert "calc:other unverifiable: other" in refused.feedback
