"""Builders shared by the pipeline's handler tests."""

from __future__ import annotations

from datetime import timedelta

from schemas import (
    Envelope,
    Plan,
    PlanCreated,
    PlanStep,
    TaskConstraints,
    TaskContext,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    utc_now,
)
from troupe.boundary import owner_key
from troupe.ledger import Ledger, stage_key
from troupe.publishing import RecordingPublisher


def math_plan(*expressions: str) -> Plan:
    return Plan(
        steps=[PlanStep(id=f"s{i}", tool="math", args={"expression": e}) for i, e in enumerate(expressions)]
    )


def submitted(
    task_id: str = "t-1", plan: Plan | None = None, allowed_tools: list[str] | None = None
) -> TaskSubmitted:
    constraints = TaskConstraints(allowed_tools=allowed_tools)
    request = TaskRequest(description="evaluate things", constraints=constraints, plan=plan)
    return TaskSubmitted(task_id=task_id, tenant="acme", request=request)


def context(max_iterations: int = 3, expired: bool = False) -> TaskContext:
    request = TaskRequest(
        description="evaluate things", constraints=TaskConstraints(max_iterations=max_iterations)
    )
    start = utc_now() - (timedelta(hours=1) if expired else timedelta(0))
    return TaskContext.starting(request, submitted_at=start)


async def recorded_plan(
    ledger: Ledger,
    plan: Plan,
    *,
    task_id: str = "t-1",
    iteration: int = 1,
    expired: bool = False,
    allowed_tools: list[str] | None = None,
) -> PlanCreated:
    """A plan.created as the planner would publish it: its task's submission and the plan recorded first."""
    start = utc_now() - (timedelta(hours=1) if expired else timedelta(0))
    task = submitted(task_id, allowed_tools=allowed_tools).model_copy(update={"occurred_at": start})
    await ledger.record_once(owner_key(task_id), task)
    event = PlanCreated(
        task_id=task_id,
        tenant=task.tenant,
        iteration=iteration,
        context=TaskContext.starting(task.request, submitted_at=start),
        plan=plan,
    )
    return await ledger.record_once(stage_key("plan", task_id, iteration), event)  # type: ignore[return-value]


class DiesBeforePublishingTheEnd(RecordingPublisher):
    """A publisher whose process dies (once) after a stage recorded the task's end but before it went out."""

    def __init__(self) -> None:
        super().__init__()
        self.died = False

    async def publish(self, event: Envelope) -> None:
        if isinstance(event, TaskFinished) and not self.died:
            self.died = True
            raise ProcessDied
        await super().publish(event)


class ProcessDied(Exception):
    pass
