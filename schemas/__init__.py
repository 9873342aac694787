"""Troupe's contracts: events, the task request, plans and the topic catalogue. Data only, no I/O."""

from schemas.approvals import ApprovalDecided, ApprovalDecision, PlanAwaitingApproval
from schemas.artefacts import ArtefactRef
from schemas.codec import (
    InvalidEvent,
    decode_event,
    encode_event,
    event_types,
    read_task_id,
    read_tenant,
)
from schemas.envelope import Envelope, EventModel, deterministic_event_id, utc_now
from schemas.events import (
    CancelRequested,
    DeadLettered,
    ExecutionCompleted,
    FinalStatus,
    PlanCreated,
    ReviewCompleted,
    StepPhase,
    StepProgressed,
    TaskEvent,
    TaskFinished,
    TaskSubmitted,
    Verdict,
)
from schemas.plan import Plan, PlanError, PlanStep, StepResult, StepStatus, Usage, execution_order
from schemas.task import TaskConstraints, TaskContext, TaskRequest
from schemas.topics import EVENT_TOPICS, Topics
from schemas.verification import Finding, FindingStatus

__all__ = [
    "EVENT_TOPICS",
    "ApprovalDecided",
    "ApprovalDecision",
    "ArtefactRef",
    "CancelRequested",
    "DeadLettered",
    "Envelope",
    "EventModel",
    "ExecutionCompleted",
    "FinalStatus",
    "Finding",
    "FindingStatus",
    "InvalidEvent",
    "Plan",
    "PlanAwaitingApproval",
    "PlanCreated",
    "PlanError",
    "PlanStep",
    "ReviewCompleted",
    "StepPhase",
    "StepProgressed",
    "StepResult",
    "StepStatus",
    "TaskConstraints",
    "TaskContext",
    "TaskEvent",
    "TaskFinished",
    "TaskRequest",
    "TaskSubmitted",
    "Topics",
    "Usage",
    "Verdict",
    "decode_event",
    "deterministic_event_id",
    "encode_event",
    "event_types",
    "execution_order",
    "read_task_id",
    "read_tenant",
    "utc_now",
]
