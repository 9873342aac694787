"""Outputs kept as artefacts, seen by the reviewer and a revision's planner as excerpts."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from pydantic import JsonValue

from planner_svc.deps import PlannerDeps
from planner_svc.plan_writer import Draft, FunctionPlanWriter, Revision
from planner_svc.revise_plan import revise_plan
from reviewer_svc.deps import ReviewerDeps
from reviewer_svc.judge import RouterJudge
from reviewer_svc.review_execution import review_execution
from schemas import (
    ExecutionCompleted,
    FinalStatus,
    Finding,
    Plan,
    PlanStep,
    ReviewCompleted,
    StepResult,
    StepStatus,
    TaskContext,
    TaskFinished,
    Usage,
    Verdict,
)
from tests.unit.artefacts.analysis import PATH, large_analysis
from tests.unit.pipeline.fakes import context
from toolbox import ToolError, ToolSettings, build_registry, check_result
from troupe.artefacts import InMemoryArtefacts, encode_output
from troupe.excerpts import size_of
from troupe.ledger import InMemoryLedger, stage_key
from troupe.llm.config import LLMSettings
from troupe.llm.router import LLMRouter
from troupe.publishing import RecordingPublisher

SPECS = {s.name: s for s in build_registry(ToolSettings(), entry_points=False).specs()}
PLAN = Plan(steps=[PlanStep(id="s1", tool="code_analyzer", args={"path": ".", "source": "main"})])


def output_ok(tool: str, output: JsonValue) -> bool:
    """The reviewer service's check: the output has its tool's result form."""
    try:
        check_result(SPECS[tool], output)  # type: ignore[arg-type]
    except (ToolError, TypeError):
        return False
    return True


async def analysed(store: InMemoryArtefacts, iteration: int = 1) -> ExecutionCompleted:
    data, media_type = encode_output(large_analysis())
    ref = await store.put("acme", "t-1", f"{iteration}/s1", data, media_type)
    result = StepResult(step_id="s1", tool="code_analyzer", status=StepStatus.SUCCEEDED, artefact=ref)
    return ExecutionCompleted(
        task_id="t-1", tenant="acme", iteration=iteration, context=context(), plan=PLAN, results=[result]
    )


async def test_the_offline_reviewer_approves_a_found_path_over_a_large_graph_from_its_excerpt() -> None:
    store, ledger, publisher = InMemoryArtefacts(), InMemoryLedger(), RecordingPublisher()
    event = await analysed(store)
    await ledger.record_once(stage_key("execute", "t-1", 1), event)
    judge = RouterJudge(LLMRouter(LLMSettings(_env_file=None), {}), output_ok)
    await review_execution(event, ReviewerDeps(ledger, publisher, judge, store, excerpt_max_chars=8_000))
    [review] = publisher.of_type(ReviewCompleted)
    assert review.verdict is Verdict.APPROVED, review.feedback
    assert review.results == event.results  # the event carries the reference, not the excerpt
    [finished] = publisher.of_type(TaskFinished)
    assert finished.status is FinalStatus.SUCCEEDED
    assert isinstance(finished.result, dict)
    assert finished.result["artefact"] == event.results[0].artefact.model_dump(mode="json")  # type: ignore[union-attr]
    excerpt = finished.result["excerpt"]
    assert isinstance(excerpt, dict) and excerpt["paths"] == [PATH]
    assert size_of(finished.result) < 12_000


async def test_the_judge_is_given_excerpts_within_the_bound() -> None:
    store, ledger, publisher = InMemoryArtefacts(), InMemoryLedger(), RecordingPublisher()
    event = await analysed(store)
    await ledger.record_once(stage_key("execute", "t-1", 1), event)
    seen: list[Sequence[StepResult]] = []

    class Recording:
        async def review(
            self,
            task_id: str,
            context: TaskContext,
            plan: Plan,
            results: Sequence[StepResult],
            findings: Sequence[Finding] = (),
            *,
            tenant: str,
        ) -> object:
            seen.append(results)
            raise AssertionError("stop here")

    deps = ReviewerDeps(ledger, publisher, Recording(), store, excerpt_max_chars=3_000)  # type: ignore[arg-type]
    with contextlib.suppress(AssertionError):
        await review_execution(event, deps)
    [[shown]] = seen
    assert shown.artefact == event.results[0].artefact
    assert isinstance(shown.output, dict) and shown.output["paths"] == [PATH]
    assert size_of(shown.output) <= 3_000 + 600


async def test_a_revision_is_planned_from_excerpts_of_the_previous_outputs() -> None:
    store, ledger, publisher = InMemoryArtefacts(), InMemoryLedger(), RecordingPublisher()
    executed = await analysed(store)
    review = ReviewCompleted(
        task_id="t-1",
        tenant="acme",
        iteration=1,
        context=executed.context,
        plan=PLAN,
        results=executed.results,
        verdict=Verdict.REVISE,
        feedback="look again",
    )
    await ledger.record_once(stage_key("review", "t-1", 1), review)
    revisions: list[Revision | None] = []

    async def write(ctx: TaskContext, revision: Revision | None) -> Draft:
        revisions.append(revision)
        return Draft(PLAN, "openai:gpt-4o", Usage())

    deps = PlannerDeps(ledger, publisher, FunctionPlanWriter(write), {}, store, excerpt_max_chars=4_000)
    await revise_plan(review, deps)
    revision = revisions[0]  # the tools are unknown here, so a re-plan follows: the first one is the review's
    assert revision is not None
    [previous] = revision.previous_results
    assert isinstance(previous.output, dict) and previous.output["paths"] == [PATH]
    assert size_of(previous.output) <= 4_000 + 600
