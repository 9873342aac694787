"""What the API answers: the public shape of tasks, logs and pages, apart from how they are stored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, JsonValue

from gateway_svc.task_state import (
    ApprovalState,
    DecisionState,
    EventFlag,
    LogEntry,
    ReviewState,
    StepState,
    TaskState,
    TaskStatus,
)
from schemas import Plan, StepResult, TaskConstraints, Usage
from troupe.telemetry import trace_url

__all__ = [
    "Accepted",
    "LogPage",
    "StepView",
    "TaskPage",
    "TaskSummary",
    "TaskView",
    "task_summary",
    "task_view",
]


class Accepted(BaseModel):
    task_id: str
    status: str = "submitted"
    trace_id: str | None = None
    links: dict[str, str]


class StepView(BaseModel):
    step_id: str
    tool: str
    status: str
    output_summary: str
    error: str | None
    duration_ms: int


class TaskSummary(BaseModel):
    task_id: str
    status: TaskStatus
    description: str
    iteration: int
    progress: float
    created_at: datetime
    updated_at: datetime


class TaskView(TaskSummary):
    tenant: str
    current_step: str | None
    constraints: TaskConstraints | None
    plan: Plan | None
    plan_feedback: str | None = Field(
        default=None,
        description="Why the current plan was written: the review that asked for it, and the validator's "
        "findings when the planner's first draft was refused and re-planned once.",
    )
    steps: list[StepView]
    results: list[StepResult]
    review: ReviewState | None
    result: JsonValue = None
    error: str | None = Field(description="Why the task did not succeed, when it did not.")
    cancel_requested: bool
    approval: ApprovalState | None = Field(
        default=None, description="What the latest plan that waited for a person waited for."
    )
    decisions: list[DecisionState] = Field(
        default_factory=list, description="Every decision on a waiting plan: who, when, on which plan hash."
    )
    finished_by: str = Field(default="", description="The service that ended the task.")
    flags: list[EventFlag] = Field(
        default_factory=list,
        description="Events published for this task that the projection ignored, and why (docs/security.md).",
    )
    usage: Usage
    trace_id: str | None
    trace_url: str | None = Field(
        default=None, description="The task's trace in Grafana, when TROUPE_GRAFANA_URL is set."
    )


class TaskPage(BaseModel):
    items: list[TaskSummary]
    next_cursor: str | None


class LogPage(BaseModel):
    items: list[LogEntry]
    next_cursor: str | None


def task_view(state: TaskState, grafana_url: str | None = None) -> TaskView:
    return TaskView(
        **task_summary(state).model_dump(),
        tenant=state.tenant,
        current_step=state.current_step,
        constraints=state.constraints,
        plan=state.plan,
        plan_feedback=state.plan_feedback,
        steps=[_step(s) for s in state.steps.values()],
        results=state.results,
        review=state.review,
        result=state.result,
        error=state.reason,
        cancel_requested=state.cancel_requested,
        approval=state.approval,
        decisions=state.decisions,
        finished_by=state.finished_by,
        flags=state.flags,
        usage=state.usage,
        trace_id=state.trace_id,
        trace_url=trace_url(grafana_url, state.trace_id) if grafana_url and state.trace_id else None,
    )


def task_summary(state: TaskState) -> TaskSummary:
    return TaskSummary(
        task_id=state.task_id,
        status=state.status,
        description=state.description,
        iteration=state.iteration,
        progress=state.progress,
        created_at=state.created_at,
        updated_at=state.updated_at,
    )


def _step(step: StepState) -> StepView:
    return StepView(**step.model_dump(exclude={"phase"}))
