"""The reviewer's handler and outcome rule with a fake judge."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import pytest
from pydantic import JsonValue

from reviewer_svc.deps import ReviewerDeps
from reviewer_svc.judge import FunctionJudge, Judgement, ReviewFailed
from reviewer_svc.outcome import outcome_of
from reviewer_svc.review_execution import review_execution
from schemas import (
    Envelope,
    ExecutionCompleted,
    FinalStatus,
    Plan,
    ReviewCompleted,
    StepResult,
    StepStatus,
    TaskFinished,
    Usage,
    Verdict,
)
from tests.unit.pipeline.fakes import DiesBeforePublishingTheEnd, ProcessDied, context, math_plan
from troupe.artefacts import InMemoryArtefacts
from troupe.ledger import InMemoryLedger, finished_key, stage_key
from troupe.publishing import RecordingPublisher
from troupe.stages import caused_by


@pytest.mark.parametrize(
    ("verdict", "iteration", "expected"),
    [
        (Verdict.APPROVED, 1, FinalStatus.SUCCEEDED),
        (Verdict.FAILED, 1, FinalStatus.FAILED),
        (Verdict.REVISE, 1, None),
        (Verdict.REVISE, 3, FinalStatus.BUDGET_EXHAUSTED),
    ],
)
def test_outcome_of_a_verdict(verdict: Verdict, iteration: int, expected: FinalStatus | None) -> None:
    assert outcome_of(verdict, iteration, max_iterations=3) is expected


def completed(iteration: int = 1) -> ExecutionCompleted:
    """One event per iteration, as the executor recorded it (deps_judging puts it in the ledger)."""
    return _completed(iteration)


@cache
def _completed(iteration: int) -> ExecutionCompleted:
    results = [StepResult(step_id="s0", tool="math", status=StepStatus.SUCCEEDED, output={"value": 2})]
    return ExecutionCompleted(
        task_id="t-1", iteration=iteration, context=context(), plan=math_plan("1+1"), results=results
    )


def deps_judging(
    *answers: Judgement | ReviewFailed, publisher: RecordingPublisher | None = None
) -> tuple[ReviewerDeps, RecordingPublisher, list[int]]:
    queue, calls = list(answers), []

    async def judge(plan: Plan, results: Sequence[StepResult]) -> Judgement:
        calls.append(1)
        answer = queue.pop(0)
        if isinstance(answer, ReviewFailed):
            raise answer
        return answer

    publisher = publisher or RecordingPublisher()
    ledger = InMemoryLedger()
    ledger.records |= {stage_key("execute", "t-1", i): completed(i) for i in (1, 2, 3)}
    return ReviewerDeps(ledger, publisher, FunctionJudge(judge), InMemoryArtefacts()), publisher, calls


def judgement(verdict: Verdict, result: JsonValue = None) -> Judgement:
    return Judgement(
        verdict, f"verdict {verdict.value}", result, "gemini:gemini-2.5-flash", Usage(llm_calls=1)
    )


async def test_approval_ends_the_task_succeeded_with_the_final_result() -> None:
    deps, published, _ = deps_judging(judgement(Verdict.APPROVED, {"answer": 2}))
    await review_execution(completed(), deps)
    [review] = published.of_type(ReviewCompleted)
    [finished] = published.of_type(TaskFinished)
    assert review.verdict is Verdict.APPROVED and review.context.spent == Usage(llm_calls=1)
    assert (finished.status, finished.result, finished.finished_by) == (
        FinalStatus.SUCCEEDED,
        {"answer": 2},
        "reviewer",
    )


async def test_revise_within_budget_publishes_only_the_review() -> None:
    deps, published, _ = deps_judging(judgement(Verdict.REVISE))
    await review_execution(completed(iteration=1), deps)
    assert [type(e) for e in published.events] == [ReviewCompleted]


async def test_revise_on_the_last_iteration_ends_the_task_budget_exhausted() -> None:
    deps, published, _ = deps_judging(judgement(Verdict.REVISE))
    await review_execution(completed(iteration=3), deps)
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.BUDGET_EXHAUSTED
    assert finished.reason == "still not approved after 3 iterations; last review: verdict revise"


async def test_a_failed_verdict_fails_the_task_with_the_feedback() -> None:
    deps, published, _ = deps_judging(judgement(Verdict.FAILED))
    await review_execution(completed(), deps)
    assert published.of_type(TaskFinished)[0].reason == "verdict failed"


async def test_no_review_from_the_llm_fails_the_task_saying_why() -> None:
    deps, published, _ = deps_judging(ReviewFailed("no review: every provider failed"))
    await review_execution(completed(), deps)
    [finished] = published.events
    assert isinstance(finished, TaskFinished) and finished.reason == "no review: every provider failed"


async def test_a_redelivered_execution_is_reviewed_once() -> None:
    deps, published, calls = deps_judging(judgement(Verdict.APPROVED))
    await review_execution(completed(), deps)
    await review_execution(completed(), deps)
    assert len(calls) == 1
    assert len({e.event_id for e in published.of_type(TaskFinished)}) == 1


async def test_an_end_recorded_but_never_published_goes_out_when_the_execution_is_redelivered() -> None:
    deps, published, calls = deps_judging(
        judgement(Verdict.APPROVED, {"answer": 2}), publisher=DiesBeforePublishingTheEnd()
    )
    with pytest.raises(ProcessDied):
        await review_execution(completed(), deps)
    assert published.of_type(TaskFinished) == []
    await review_execution(completed(), deps)
    [finished] = published.of_type(TaskFinished)
    assert (finished.status, finished.result) == (FinalStatus.SUCCEEDED, {"answer": 2})
    assert len(calls) == 1


def deps_racing(
    verdict: Verdict, recorded_meanwhile: Callable[[InMemoryLedger], object]
) -> tuple[ReviewerDeps, RecordingPublisher]:
    """A reviewer whose judge answers `verdict` once `recorded_meanwhile` has put records in the ledger, as
    another replica or stage could while the review is judged."""
    deps, published, _ = deps_judging()
    assert isinstance(deps.ledger, InMemoryLedger)
    ledger = deps.ledger

    async def judge(plan: Plan, results: Sequence[StepResult]) -> Judgement:
        recorded_meanwhile(ledger)
        return judgement(verdict, {"answer": 2})

    return ReviewerDeps(ledger, published, FunctionJudge(judge), InMemoryArtefacts()), published


async def test_an_end_recorded_while_the_review_was_judged_stays_the_end_and_the_review_still_goes_out() -> (
    None
):
    cancelled = TaskFinished(
        task_id="t-1", tenant="default", status=FinalStatus.CANCELLED, finished_by="planner", reason="stop"
    )
    deps, published = deps_racing(
        Verdict.APPROVED, lambda ledger: ledger.records.setdefault(finished_key("t-1"), cancelled)
    )
    await review_execution(completed(), deps)
    [review] = published.of_type(ReviewCompleted)
    assert review.verdict is Verdict.APPROVED
    assert published.of_type(TaskFinished) == [cancelled]
    assert deps.ledger.records[stage_key("review", "t-1", 1)] == review  # type: ignore[attr-defined]


async def test_a_review_another_replica_recorded_meanwhile_is_the_one_that_decides_the_end() -> None:
    theirs = ReviewCompleted(
        **caused_by(completed(), "review", 1),
        context=completed().context,
        plan=completed().plan,
        results=completed().results,
        verdict=Verdict.FAILED,
        feedback="their verdict",
        reviewer="other",
    )
    deps, published = deps_racing(
        Verdict.APPROVED, lambda ledger: ledger.records.setdefault(stage_key("review", "t-1", 1), theirs)
    )
    await review_execution(completed(), deps)
    assert published.of_type(ReviewCompleted) == [theirs]
    [finished] = published.of_type(TaskFinished)
    assert (finished.status, finished.reason) == (FinalStatus.FAILED, "their verdict")


async def test_an_ending_review_and_its_end_are_recorded_in_one_call() -> None:
    calls: list[int] = []

    class Counted(InMemoryLedger):
        async def record_once(self, key: str, event: Envelope) -> Envelope:
            calls.append(1)
            return await super().record_once(key, event)

        async def record_in_order(self, records: Sequence[tuple[str, Envelope]]) -> int:
            calls.append(len(records))
            return await super().record_in_order(records)

    deps, published, _ = deps_judging(judgement(Verdict.APPROVED))
    ledger = Counted()
    ledger.records |= deps.ledger.records  # type: ignore[attr-defined]
    await review_execution(completed(), ReviewerDeps(ledger, published, deps.judge, deps.artefacts))
    assert calls == [2]
    assert {type(e) for e in published.events} == {ReviewCompleted, TaskFinished}
