"""Every event of the Plan -> Execute -> Review flow, named for what happened."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, JsonValue

from schemas.approvals import ApprovalDecided, PlanAwaitingApproval
from schemas.envelope import ID_PATTERN, Envelope, EventModel, utc_now
from schemas.plan import Plan, StepResult, StepStatus, Usage
from schemas.task import TaskContext, TaskRequest
from schemas.verification import Finding

__all__ = [
    "CancelRequested",
    "DeadLettered",
    "ExecutionCompleted",
    "FinalStatus",
    "PlanCreated",
    "ReviewCompleted",
    "StepPhase",
    "StepProgressed",
    "TaskEvent",
    "TaskFinished",
    "TaskSubmitted",
    "Verdict",
]


class TaskSubmitted(Envelope):
    type: Literal["task.submitted"] = "task.submitted"
    request: TaskRequest


class PlanCreated(Envelope):
    """A validated plan for one iteration; `revision_feedback` carries the review that asked for it."""

    type: Literal["plan.created"] = "plan.created"
    context: TaskContext
    plan: Plan
    planner: str = Field(default="", description="provider:model that wrote the plan, or 'explicit'.")
    revision_feedback: str | None = None
    usage: Usage = Field(default_factory=Usage)


class StepPhase(StrEnum):
    STARTED = "started"
    FINISHED = "finished"


class StepProgressed(Envelope):
    type: Literal["step.progressed"] = "step.progressed"
    step_id: str
    tool: str
    phase: StepPhase
    status: StepStatus | None = Field(default=None, description="Set when the step finished.")
    output_summary: str = Field(default="", max_length=4_000)
    error: str | None = None
    duration_ms: int = Field(default=0, ge=0)
    steps_total: int = Field(ge=1)
    steps_done: int = Field(ge=0)


class ExecutionCompleted(Envelope):
    type: Literal["execution.completed"] = "execution.completed"
    context: TaskContext
    plan: Plan
    results: list[StepResult]
    usage: Usage = Field(default_factory=Usage, description="LLM usage of the plan's ai_tool steps.")


class Verdict(StrEnum):
    APPROVED = "approved"
    REVISE = "revise"
    FAILED = "failed"


class ReviewCompleted(Envelope):
    """A verdict on one iteration. It carries the plan and results so a revision can be planned from it alone."""

    type: Literal["review.completed"] = "review.completed"
    context: TaskContext
    plan: Plan
    results: list[StepResult]
    verdict: Verdict
    feedback: str = Field(default="", max_length=20_000)
    final_result: JsonValue = None
    reviewer: str = Field(default="", description="provider:model that reviewed, or 'offline'.")
    usage: Usage = Field(default_factory=Usage)
    findings: list[Finding] = Field(
        default_factory=list, description="What the deterministic verifiers found about the step outputs."
    )
    citations: list[str] = Field(
        default_factory=list,
        max_length=500,  # at most 4 findings per step, or the step ids, of at most 100 steps
        description="Ids of the findings (or steps) the verdict rests on.",
    )
    overruled: str | None = Field(
        default=None,
        max_length=20_000,
        description="Why the reviewer's approval was turned into this verdict by failed findings, if it was.",
    )


class FinalStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    BUDGET_EXHAUSTED = "budget_exhausted"
    REJECTED = "rejected"
    DECLINED = "declined"


class TaskFinished(Envelope):
    """The one terminal event of a task. `reason` says why whenever the status is not succeeded."""

    type: Literal["task.finished"] = "task.finished"
    status: FinalStatus
    result: JsonValue = None
    reason: str | None = Field(default=None, max_length=20_000)
    finished_by: str = Field(default="", description="The service that decided the outcome.")


class CancelRequested(Envelope):
    type: Literal["task.cancel_requested"] = "task.cancel_requested"
    reason: str = Field(default="cancelled by request", max_length=2_000)


TaskEvent = Annotated[
    TaskSubmitted
    | PlanCreated
    | StepProgressed
    | ExecutionCompleted
    | ReviewCompleted
    | TaskFinished
    | CancelRequested
    | PlanAwaitingApproval
    | ApprovalDecided,
    Field(discriminator="type"),
]


class DeadLettered(EventModel):
    """A message no consumer could accept, kept byte for byte with where it came from and why.

    Not an Envelope: the original may have no readable task id at all.
    """

    type: Literal["event.dead_lettered"] = "event.dead_lettered"
    schema_version: int = Field(default=1, ge=1, le=1)
    event_id: str
    task_id: str | None = Field(default=None, pattern=ID_PATTERN)
    tenant: str | None = None
    source_topic: str
    source_partition: int = Field(ge=0)
    source_offset: int = Field(ge=0)
    consumer: str = Field(description="The consumer group that refused the message.")
    reason: str
    original_base64: str = Field(description="The original message value, base64-encoded.")
    original_key: str | None = None
    occurred_at: datetime = Field(default_factory=utc_now)
