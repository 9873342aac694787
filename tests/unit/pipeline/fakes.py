"""Builders shared by the pipeline's handler tests."""

from __future__ import annotations

from datetime import timedelta

from schemas import (
    Envelope,
    Plan,
    PlanStep,
    TaskConstraints,
    TaskContext,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    utc_now,
)
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
