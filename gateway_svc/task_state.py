"""The projected state of one task and its log entries: plain data, what GET /tasks/{id} shows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, JsonValue

from schemas import ApprovalDecision, FinalStatus, Finding, Plan, StepResult, TaskConstraints, Usage, Verdict

__all__ = [
    "TERMINAL",
    "ApprovalState",
    "DecisionState",
    "EventFlag",
    "LogEntry",
    "ReviewState",
    "StepState",
    "TaskState",
    "TaskStatus",
]


class TaskStatus(StrEnum):
    SUBMITTED = "submitted"
    PLANNING = "planning"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    REVIEWING = "reviewing"
    SUCCEEDED = FinalStatus.SUCCEEDED.value
    FAILED = FinalStatus.FAILED.value
    CANCELLED = FinalStatus.CANCELLED.value
    TIMED_OUT = FinalStatus.TIMED_OUT.value
    BUDGET_EXHAUSTED = FinalStatus.BUDGET_EXHAUSTED.value
    REJECTED = FinalStatus.REJECTED.value
    DECLINED = FinalStatus.DECLINED.value


TERMINAL = frozenset(TaskStatus(s.value) for s in FinalStatus)


class StepState(BaseModel):
    """One step of the current iteration. `phase` never goes back: 0 pending, 1 started, 2 finished,
    3 recorded in the execution's results (which then win over progress events, whatever their order)."""

    step_id: str
    tool: str = ""
    status: str = "pending"
    phase: int = 0
    output_summary: str = ""
    error: str | None = None
    duration_ms: int = 0


class ReviewState(BaseModel):
    """The latest review: its verdict, the verifiers' findings and which of them the verdict cites."""

    iteration: int
    verdict: Verdict
    feedback: str = ""
    reviewer: str = ""
    findings: list[Finding] = Field(default_factory=list)
    citations: list[str] = Field(default_factory=list)
    overruled: str | None = None


class ApprovalState(BaseModel):
    """What the latest plan waits for: a decision on this plan hash by a key with one of these roles."""

    iteration: int
    plan_hash: str
    reasons: list[str]
    expires_at: datetime
    approver_roles: list[str]


class DecisionState(BaseModel):
    """One decision on a waiting plan: who (key id and role, or the executor for an expiry), when, on what."""

    iteration: int
    plan_hash: str
    decision: ApprovalDecision
    decided_by: str
    role: str | None = None
    comment: str = ""
    decided_at: datetime


class EventFlag(BaseModel):
    """An event the projection ignored, and why: one that names another tenant, or an ending that does not
    follow the task's own lifecycle. Such events come from a writer on Kafka, not from the pipeline."""

    event_id: str
    type: str
    reason: str


class TaskState(BaseModel):
    """A task as the projection knows it. `revision` counts the events applied; `applied_events` makes
    every event count once however often it is delivered."""

    task_id: str
    tenant: str = "default"
    status: TaskStatus = TaskStatus.SUBMITTED
    # (iteration, stage rank) of the event that set `status`: an older event arriving late cannot win.
    status_key: tuple[int, int] = (0, -1)
    description: str = ""
    constraints: TaskConstraints | None = None
    iteration: int = 0
    plan: Plan | None = None
    plan_iteration: int = -1
    plan_feedback: str | None = None
    steps: dict[str, StepState] = Field(default_factory=dict)
    steps_iteration: int = -1
    steps_total: int = 0
    current_step: str | None = None
    progress: float = 0.0
    results: list[StepResult] = Field(default_factory=list)
    results_iteration: int = -1
    review: ReviewState | None = None
    result: JsonValue = None
    reason: str | None = None
    cancel_requested: bool = False
    approval: ApprovalState | None = None
    decisions: list[DecisionState] = Field(default_factory=list)
    finished_by: str = ""
    flags: list[EventFlag] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    trace_id: str | None = None
    created_at: datetime
    updated_at: datetime
    revision: int = 0
    applied_events: list[str] = Field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class LogEntry(BaseModel):
    """One line of a task's log: one per event, keyed by the event id so a duplicate is the same line."""

    event_id: str
    task_id: str
    tenant: str
    time: datetime
    level: str = "info"
    type: str
    iteration: int = 0
    message: str
