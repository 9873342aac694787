"""The planner's handlers with fakes: what they publish for each kind of input."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from functools import partial

import pytest

from planner_svc.cancel_task import cancel_task
from planner_svc.deps import PlannerDeps
from planner_svc.plan_task import plan_task
from planner_svc.plan_writer import Draft, FunctionPlanWriter, PlanningFailed, Revision, RouterPlanWriter
from planner_svc.revise_plan import revise_plan
from schemas import (
    CancelRequested,
    Envelope,
    FinalStatus,
    Plan,
    PlanCreated,
    PlanStep,
    ReviewCompleted,
    TaskConstraints,
    TaskContext,
    TaskFinished,
    Usage,
    Verdict,
    utc_now,
)
from tests.unit.pipeline.fakes import DiesBeforePublishingTheEnd, ProcessDied, context, math_plan, submitted
from toolbox import ToolSettings, build_registry
from troupe.artefacts import InMemoryArtefacts
from troupe.ledger import InMemoryLedger, finished_key, stage_key
from troupe.llm import LLMRouter
from troupe.llm.config import LLMSettings
from troupe.llm.price_check import unpriced_refusal
from troupe.llm.providers import FunctionProvider, ProviderReply, ProviderRequest
from troupe.publishing import RecordingPublisher

TOOLS = {spec.name: spec for spec in build_registry(ToolSettings(), entry_points=False).specs()}


class Scripted:
    """A plan writer that returns its drafts in turn and remembers what it was asked."""

    def __init__(self, *drafts: Draft | PlanningFailed) -> None:
        self.drafts = list(drafts)
        self.revisions: list[Revision | None] = []

    async def __call__(self, context: TaskContext, revision: Revision | None) -> Draft:
        self.revisions.append(revision)
        draft = self.drafts.pop(0)
        if isinstance(draft, PlanningFailed):
            raise draft
        return draft


def deps_with(writer: Scripted) -> tuple[PlannerDeps, RecordingPublisher]:
    publisher = RecordingPublisher()
    return PlannerDeps(
        InMemoryLedger(), publisher, FunctionPlanWriter(writer), TOOLS, InMemoryArtefacts()
    ), publisher


async def test_a_submitted_task_gets_a_validated_first_plan() -> None:
    writer = Scripted(Draft(math_plan("1+1"), "openai:gpt-4o", Usage(llm_calls=1, tokens_in=10)))
    deps, published = deps_with(writer)
    await plan_task(submitted(), deps)
    [plan] = published.of_type(PlanCreated)
    assert (plan.iteration, plan.planner, plan.tenant) == (1, "openai:gpt-4o", "acme")
    assert plan.context.spent == Usage(llm_calls=1, tokens_in=10)


async def test_an_explicit_plan_is_used_without_asking_the_writer() -> None:
    writer = Scripted()
    deps, published = deps_with(writer)
    await plan_task(submitted(plan=math_plan("2*3")), deps)
    assert published.of_type(PlanCreated)[0].planner == "explicit"
    assert writer.revisions == []


async def test_a_redelivered_submission_republishes_the_first_plan_and_asks_no_one() -> None:
    writer = Scripted(Draft(math_plan("1"), "a", Usage()), Draft(math_plan("2"), "b", Usage()))
    deps, published = deps_with(writer)
    event = submitted()
    await plan_task(event, deps)
    await plan_task(event, deps)
    first, again = published.of_type(PlanCreated)
    assert first == again
    assert len(writer.revisions) == 1


async def test_a_plan_naming_an_unknown_tool_fails_the_task_with_the_reason() -> None:
    bad = Plan(steps=[PlanStep(id="x", tool="teleport", args={})])
    deps, published = deps_with(Scripted(*[Draft(bad, "gemini:gemini-2.5-pro", Usage())] * 2))
    await plan_task(submitted(), deps)
    [finished] = published.events
    assert isinstance(finished, TaskFinished) and finished.status is FinalStatus.FAILED
    assert "unknown tool 'teleport'" in (finished.reason or "")


async def test_a_tool_the_task_does_not_allow_fails_the_task() -> None:
    deps, published = deps_with(Scripted(*[Draft(math_plan("1"), "m", Usage())] * 2))
    await plan_task(submitted(allowed_tools=["code_analyzer"]), deps)
    [finished] = published.of_type(TaskFinished)
    assert "which the task does not allow" in (finished.reason or "")


async def test_invalid_tool_arguments_fail_the_task() -> None:
    bad = Plan(steps=[PlanStep(id="x", tool="math", args={"expr": "1"})])
    deps, published = deps_with(Scripted(*[Draft(bad, "m", Usage())] * 2))
    await plan_task(submitted(), deps)
    assert "step 'x': math: invalid arguments" in (published.of_type(TaskFinished)[0].reason or "")


async def test_no_plan_from_the_llm_fails_the_task_saying_why() -> None:
    deps, published = deps_with(Scripted(PlanningFailed("no plan: every provider failed")))
    await plan_task(submitted(), deps)
    [finished] = published.of_type(TaskFinished)
    assert (finished.status, finished.reason) == (FinalStatus.FAILED, "no plan: every provider failed")


def review(verdict: Verdict, iteration: int, max_iterations: int = 3) -> ReviewCompleted:
    plan = math_plan("1")
    return ReviewCompleted(
        task_id="t-1",
        iteration=iteration,
        context=context(max_iterations),
        plan=plan,
        results=[],
        verdict=verdict,
        feedback="show your work",
    )


async def test_a_revise_verdict_plans_the_next_iteration_with_the_feedback() -> None:
    writer = Scripted(Draft(math_plan("2"), "m", Usage()))
    deps, published = deps_with(writer)
    event = review(Verdict.REVISE, iteration=1)
    await deps.ledger.record_once(stage_key("review", "t-1", 1), event)  # as the reviewer does
    await revise_plan(event, deps)
    [plan] = published.of_type(PlanCreated)
    assert (plan.iteration, plan.revision_feedback) == (2, "show your work")
    assert writer.revisions[0] is not None and writer.revisions[0].previous_plan == math_plan("1")


@pytest.mark.parametrize(
    ("verdict", "iteration"), [(Verdict.APPROVED, 1), (Verdict.FAILED, 1), (Verdict.REVISE, 3)]
)
async def test_no_revision_for_final_verdicts_or_a_spent_budget(verdict: Verdict, iteration: int) -> None:
    deps, published = deps_with(Scripted())
    await revise_plan(review(verdict, iteration), deps)
    assert published.events == []


async def test_cancel_ends_the_task_once_and_a_later_outcome_repeats_it() -> None:
    deps, published = deps_with(Scripted())
    await cancel_task(CancelRequested(task_id="t-1", reason="stop"), deps)
    await cancel_task(CancelRequested(task_id="t-1", reason="again"), deps)
    first, second = published.of_type(TaskFinished)
    assert first == second and first.status is FinalStatus.CANCELLED and first.reason == "stop"


async def test_a_finished_task_is_not_planned_again() -> None:
    deps, published = deps_with(Scripted(Draft(math_plan("1"), "m", Usage())))
    await cancel_task(CancelRequested(task_id="t-1"), deps)
    await plan_task(submitted(), deps)
    assert published.of_type(PlanCreated) == []


async def test_a_failure_recorded_but_never_published_goes_out_when_the_submission_is_redelivered() -> None:
    publisher = DiesBeforePublishingTheEnd()
    deps = PlannerDeps(
        InMemoryLedger(),
        publisher,
        FunctionPlanWriter(Scripted(PlanningFailed("no plan"))),
        TOOLS,
        InMemoryArtefacts(),
    )
    with pytest.raises(ProcessDied):
        await plan_task(submitted(), deps)
    await plan_task(submitted(), deps)
    [finished] = publisher.of_type(TaskFinished)
    assert (finished.status, finished.reason) == (FinalStatus.FAILED, "no plan")


async def test_a_task_sent_straight_to_kafka_with_a_cost_budget_over_an_unpriced_model_is_rejected() -> None:
    llm = LLMSettings(_env_file=None, openai_api_key="k", reviewer_chain="openai:scripted-model")  # type: ignore[arg-type]
    writer = Scripted(Draft(math_plan("1"), "m", Usage()))
    deps, published = deps_with(writer)
    deps = replace(deps, refusal=partial(unpriced_refusal, settings=llm))
    task = submitted()
    budgeted = task.request.model_copy(update={"constraints": TaskConstraints(max_cost_usd=0.5)})

    await plan_task(task.model_copy(update={"request": budgeted}), deps)

    [finished] = published.events
    assert isinstance(finished, TaskFinished) and finished.status is FinalStatus.REJECTED
    assert (finished.reason or "").startswith(
        "max_cost_usd cannot be kept: no price is known for openai:scripted-model (reviewer)"
    )
    assert writer.revisions == []  # no model was asked


async def test_a_planner_chain_cut_by_the_deadline_times_the_task_out_saying_so() -> None:
    async def slow(request: ProviderRequest) -> ProviderReply:
        await asyncio.sleep(10)
        raise AssertionError("never answers")

    llm = LLMSettings(_env_file=None, planner_chain="openai:gpt-4o", timeout_s=30)  # type: ignore[arg-type]
    router = LLMRouter(llm, {"openai": FunctionProvider("openai", slow)})
    publisher = RecordingPublisher()
    deps = PlannerDeps(InMemoryLedger(), publisher, RouterPlanWriter(router, []), TOOLS, InMemoryArtefacts())
    task = submitted()
    allowed = task.request.constraints.max_duration_s
    # Submitted long enough ago that a quarter of a second is left.
    await plan_task(
        task.model_copy(update={"occurred_at": utc_now() - timedelta(seconds=allowed - 0.25)}), deps
    )

    [finished] = publisher.of_type(TaskFinished)
    assert finished.status is FinalStatus.TIMED_OUT
    assert (finished.reason or "").startswith(
        "no plan: the task's deadline cut the planner chain: openai:gpt-4o:"
    )


class ReadsCounted(InMemoryLedger):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    async def find(self, key: str) -> Envelope | None:
        self.reads.append(key)
        return await super().find(key)


async def test_a_first_submission_looks_up_only_the_end_and_a_redelivered_one_also_the_plan() -> None:
    ledger, publisher = ReadsCounted(), RecordingPublisher()
    writer = Scripted(Draft(math_plan("1"), "a", Usage()))
    deps = PlannerDeps(ledger, publisher, FunctionPlanWriter(writer), TOOLS, InMemoryArtefacts())
    await plan_task(submitted(), deps)
    assert ledger.reads == [finished_key("t-1")]
    ledger.reads.clear()
    await plan_task(submitted(), deps)
    assert sorted(ledger.reads) == [finished_key("t-1"), stage_key("plan", "t-1", 1)]
    assert len(publisher.of_type(PlanCreated)) == 2 and len(writer.revisions) == 1
