"""Every event round-trips through bytes, and every kind of bad payload is refused with a readable reason."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas import (
    ApprovalDecided,
    ApprovalDecision,
    CancelRequested,
    DeadLettered,
    Envelope,
    ExecutionCompleted,
    FinalStatus,
    InvalidEvent,
    Plan,
    PlanAwaitingApproval,
    PlanCreated,
    PlanStep,
    ReviewCompleted,
    StepPhase,
    StepProgressed,
    StepResult,
    StepStatus,
    TaskConstraints,
    TaskContext,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Usage,
    Verdict,
    decode_event,
    encode_event,
    event_types,
    read_task_id,
)

PLAN = Plan(
    steps=[
        PlanStep(id="graph", tool="code_analyzer", args={"path": "samples/app", "source": "main"}),
        PlanStep(id="summary", tool="ai_tool", args={"prompt": "summarise"}, depends_on=["graph"]),
    ],
    rationale="analyse, then summarise",
)

REQUEST = TaskRequest(
    description="call sequence from main() to process_data()",
    constraints=TaskConstraints(max_duration_s=60, allowed_tools=["code_analyzer"], max_iterations=2),
    plan=PLAN,
)
CONTEXT = TaskContext.starting(REQUEST, datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
RESULTS = [
    StepResult(step_id="graph", tool="code_analyzer", status=StepStatus.SUCCEEDED, output={"paths": []}),
    StepResult(step_id="summary", tool="ai_tool", status=StepStatus.FAILED, error="no provider"),
]

EXAMPLES: list[Envelope] = [
    TaskSubmitted(task_id="t-1", tenant="acme", request=REQUEST),
    PlanCreated(
        context=CONTEXT,
        task_id="t-1",
        iteration=1,
        plan=PLAN,
        planner="gemini:gemini-2.5-pro",
        usage=Usage(llm_calls=1),
    ),
    StepProgressed(
        task_id="t-1",
        step_id="graph",
        tool="code_analyzer",
        phase=StepPhase.FINISHED,
        status=StepStatus.SUCCEEDED,
        duration_ms=12,
        steps_total=2,
        steps_done=1,
    ),
    ExecutionCompleted(task_id="t-1", context=CONTEXT, plan=PLAN, results=RESULTS),
    ReviewCompleted(
        task_id="t-1",
        context=CONTEXT,
        plan=PLAN,
        results=RESULTS,
        verdict=Verdict.REVISE,
        feedback="add the callers",
    ),
    TaskFinished(task_id="t-1", status=FinalStatus.SUCCEEDED, result={"sequence": ["main", "process_data"]}),
    CancelRequested(task_id="t-1", reason="changed my mind"),
    PlanAwaitingApproval(
        task_id="t-1",
        plan_hash="a" * 64,
        reasons=["step 's1' uses python_exec, which needs approval (approvals.tools)"],
        expires_at=datetime(2026, 1, 1, 1, tzinfo=UTC),
        expiry_reason="no answer to the approval request within approvals.timeout_s (3600 s)",
        approver_roles=["approver", "admin"],
    ),
    ApprovalDecided(
        task_id="t-1",
        plan_hash="a" * 64,
        decision=ApprovalDecision.APPROVE,
        decided_by="k_1",
        role="approver",
    ),
]


def _payload(event: Envelope) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(encode_event(event))
    return loaded


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type)
def test_every_event_round_trips_through_bytes(event: Envelope) -> None:
    assert decode_event(encode_event(event)) == event


def test_examples_cover_every_event_type() -> None:
    assert {e.type for e in EXAMPLES} == set(event_types())


def test_dead_letter_round_trips() -> None:
    letter = DeadLettered(
        event_id="d-1",
        source_topic="troupe.tasks.submitted",
        source_partition=0,
        source_offset=42,
        consumer="planner",
        reason="payload is not JSON",
        original_base64="eHg=",
    )
    assert DeadLettered.model_validate_json(letter.model_dump_json()) == letter


def test_missing_field_names_the_field() -> None:
    payload = _payload(EXAMPLES[0])
    del payload["request"]
    with pytest.raises(InvalidEvent, match=r"invalid task.submitted event: request: Field required"):
        decode_event(payload)


def test_wrong_type_names_the_field_and_the_expected_type() -> None:
    payload = _payload(EXAMPLES[2])
    payload["steps_total"] = "many"
    with pytest.raises(InvalidEvent, match=r"steps_total: Input should be a valid integer"):
        decode_event(payload)


def test_unknown_event_type_lists_the_known_ones() -> None:
    payload = _payload(EXAMPLES[0]) | {"type": "task.exploded"}
    with pytest.raises(
        InvalidEvent, match=r"unknown event type 'task.exploded'; known types: .*plan.created"
    ):
        decode_event(payload)


def test_missing_event_type_is_an_unknown_type() -> None:
    payload = _payload(EXAMPLES[0])
    del payload["type"]
    with pytest.raises(InvalidEvent, match=r"unknown event type None"):
        decode_event(payload)


def test_newer_schema_version_is_refused_with_an_upgrade_hint() -> None:
    payload = _payload(EXAMPLES[1]) | {"schema_version": 2}
    with pytest.raises(
        InvalidEvent, match=r"schema_version 2 of 'plan.created' is newer .* upgrade the consumer"
    ):
        decode_event(payload)


def test_unknown_field_is_refused() -> None:
    payload = _payload(EXAMPLES[5]) | {"surprise": True}
    with pytest.raises(InvalidEvent, match=r"surprise: Extra inputs are not permitted"):
        decode_event(payload)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe garbage", "payload is not JSON"),
        (b"{not json", "payload is not JSON"),
        (b"[1, 2]", "payload must be a JSON object, got list"),
        (b'"a string"', "payload must be a JSON object, got str"),
    ],
)
def test_bytes_that_are_not_an_event_object_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode_event(raw)


def test_bad_task_id_is_refused() -> None:
    payload = _payload(EXAMPLES[0]) | {"task_id": "../../etc/passwd"}
    with pytest.raises(InvalidEvent, match=r"task_id: String should match pattern"):
        decode_event(payload)


def test_task_id_is_readable_from_an_otherwise_broken_payload() -> None:
    assert read_task_id(b'{"task_id": "t-9", "type": "nonsense"}') == "t-9"
    assert read_task_id(b"garbage") is None
    assert read_task_id(b'{"task_id": 7}') is None


def test_task_request_defaults_follow_the_design() -> None:
    request = TaskRequest(description="x")
    assert request.constraints == TaskConstraints(max_duration_s=600, allowed_tools=None, max_iterations=3)
    assert request.plan is None


@pytest.mark.parametrize(
    "constraints",
    [{"max_iterations": 0}, {"max_duration_s": 0}, {"max_duration_s": "soon"}],
)
def test_out_of_range_constraints_are_refused(constraints: dict[str, Any]) -> None:
    payload = _payload(EXAMPLES[0])
    payload["request"]["constraints"] = constraints
    with pytest.raises(InvalidEvent, match=r"request.constraints"):
        decode_event(payload)


def test_usage_adds_up() -> None:
    total = Usage(llm_calls=1, tokens_in=10, tokens_out=5, cost_usd=0.25) + Usage(
        llm_calls=2, tokens_in=1, tokens_out=1, cost_usd=0.5
    )
    assert total == Usage(llm_calls=3, tokens_in=11, tokens_out=6, cost_usd=0.75)


def test_context_deadline_is_submission_plus_max_duration() -> None:
    assert CONTEXT.deadline == datetime(2026, 11, 21, 12, 1, tzinfo=UTC)
