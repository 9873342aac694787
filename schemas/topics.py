"""The topic catalogue: which event travels on which topic, under one configurable prefix.

Every task event is keyed by its task id, so all events of a task land on one partition per topic
and each consumer sees a task's events in the order they were published.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.approvals import ApprovalDecided, PlanAwaitingApproval
from schemas.envelope import EventModel
from schemas.events import (
    CancelRequested,
    DeadLettered,
    ExecutionCompleted,
    PlanCreated,
    ReviewCompleted,
    StepProgressed,
    TaskFinished,
    TaskSubmitted,
)

__all__ = ["EVENT_TOPICS", "Topics"]

# Event class -> topic suffix. One topic per event type keeps each consumer group reading only what it acts on.
EVENT_TOPICS: dict[type[EventModel], str] = {
    TaskSubmitted: "tasks.submitted",
    PlanCreated: "plans.created",
    StepProgressed: "steps.progressed",
    ExecutionCompleted: "executions.completed",
    ReviewCompleted: "reviews.completed",
    TaskFinished: "tasks.finished",
    CancelRequested: "tasks.cancel-requested",
    DeadLettered: "dead-letter",
    PlanAwaitingApproval: "plans.awaiting-approval",
    ApprovalDecided: "approvals",
}


@dataclass(frozen=True)
class Topics:
    """Full topic names for one deployment (prefix `troupe` gives `troupe.tasks.submitted`)."""

    prefix: str = "troupe"

    def for_event(self, event: type[EventModel] | EventModel) -> str:
        cls = event if isinstance(event, type) else type(event)
        return f"{self.prefix}.{EVENT_TOPICS[cls]}"

    @property
    def task_submitted(self) -> str:
        return self.for_event(TaskSubmitted)

    @property
    def plan_created(self) -> str:
        return self.for_event(PlanCreated)

    @property
    def step_progressed(self) -> str:
        return self.for_event(StepProgressed)

    @property
    def execution_completed(self) -> str:
        return self.for_event(ExecutionCompleted)

    @property
    def review_completed(self) -> str:
        return self.for_event(ReviewCompleted)

    @property
    def task_finished(self) -> str:
        return self.for_event(TaskFinished)

    @property
    def cancel_requested(self) -> str:
        return self.for_event(CancelRequested)

    @property
    def plan_awaiting_approval(self) -> str:
        return self.for_event(PlanAwaitingApproval)

    @property
    def approval_decided(self) -> str:
        return self.for_event(ApprovalDecided)

    @property
    def dead_letter(self) -> str:
        return self.for_event(DeadLettered)

    def all(self) -> list[str]:
        return [self.for_event(cls) for cls in EVENT_TOPICS]
