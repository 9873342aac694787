"""A task's events as the pipeline would publish them, for projection tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from gateway_svc.projection import ProjectedEvent
from schemas import (
    DeadLettered,
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanCreated,
    PlanStep,
    ReviewCompleted,
    StepPhase,
    StepProgressed,
    StepResult,
    StepStatus,
    TaskContext,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Usage,
    Verdict,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = TaskRequest(description="evaluate 2**10")
CONTEXT = TaskContext.starting(REQUEST, T0)
PLAN = Plan(steps=[PlanStep(id="a", tool="math"), PlanStep(id="b", tool="math", depends_on=["a"])])
RESULTS = [
    StepResult(step_id="a", tool="math", status=StepStatus.SUCCEEDED, output=1024, output_summary="1024"),
    StepResult(step_id="b", tool="math", status=StepStatus.SUCCEEDED, output="ok", output_summary="ok"),
]
USAGE = Usage(llm_calls=1, tokens_in=100, tokens_out=10, cost_usd=0.01)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def happy_path(task_id: str = "t1", tenant: str = "acme") -> list[ProjectedEvent]:
    """Submit, plan, two steps, execution, approval, success: one iteration."""
    common: dict[str, Any] = {"task_id": task_id, "tenant": tenant}
    return [
        TaskSubmitted(**common, request=REQUEST, occurred_at=at(0)),
        PlanCreated(**common, iteration=1, context=CONTEXT, plan=PLAN, usage=USAGE, occurred_at=at(1)),
        step(task_id, tenant, "a", StepPhase.STARTED, 0, at(2)),
        step(task_id, tenant, "a", StepPhase.FINISHED, 1, at(3)),
        step(task_id, tenant, "b", StepPhase.STARTED, 1, at(4)),
        step(task_id, tenant, "b", StepPhase.FINISHED, 2, at(5)),
        ExecutionCompleted(
            **common, iteration=1, context=CONTEXT, plan=PLAN, results=RESULTS, usage=USAGE, occurred_at=at(6)
        ),
        review(task_id, tenant, Verdict.APPROVED, 1, at(7)),
        TaskFinished(**common, iteration=1, status=FinalStatus.SUCCEEDED, result=1024, occurred_at=at(8)),
    ]


def step(
    task_id: str, tenant: str, step_id: str, phase: StepPhase, done: int, when: datetime, iteration: int = 1
) -> StepProgressed:
    finished = phase is StepPhase.FINISHED
    return StepProgressed(
        task_id=task_id,
        tenant=tenant,
        iteration=iteration,
        step_id=step_id,
        tool="math",
        phase=phase,
        status=StepStatus.SUCCEEDED if finished else None,
        output_summary="done" if finished else "",
        steps_total=2,
        steps_done=done,
        occurred_at=when,
    )


def review(task_id: str, tenant: str, verdict: Verdict, iteration: int, when: datetime) -> ReviewCompleted:
    return ReviewCompleted(
        task_id=task_id,
        tenant=tenant,
        iteration=iteration,
        context=CONTEXT,
        plan=PLAN,
        results=RESULTS,
        verdict=verdict,
        feedback="looks right" if verdict is Verdict.APPROVED else "try again",
        final_result=1024 if verdict is Verdict.APPROVED else None,
        usage=USAGE,
        occurred_at=when,
    )


def dead_letter(task_id: str | None, tenant: str | None = "acme") -> DeadLettered:
    return DeadLettered(
        event_id=f"dl-{task_id}",
        task_id=task_id,
        tenant=tenant,
        source_topic="troupe.plans.created",
        source_partition=0,
        source_offset=7,
        consumer="troupe-executor",
        reason="invalid plan.created event: plan: Field required",
        original_base64="e30=",
    )
