"""Hostile events on every topic a worker consumes are dead-lettered with a reason, and the partition flows on."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas import (
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanCreated,
    PlanStep,
    TaskContext,
    TaskRequest,
    utc_now,
)
from tests.e2e.conftest import Pipeline
from tests.e2e.event_log import EventLog
from tests.e2e.test_pipeline_over_kafka import submit, the_outcome

CONTEXT = TaskContext.starting(TaskRequest(description="hostile"), submitted_at=utc_now())
PLAN = Plan(steps=[PlanStep(id="a", tool="math", args={"expression": "1+1"})])


def plan_created(task_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = PlanCreated(task_id=task_id, context=CONTEXT, plan=PLAN).model_dump(mode="json")
    return payload


def execution_completed(task_id: str) -> dict[str, Any]:
    event = ExecutionCompleted(task_id=task_id, context=CONTEXT, plan=PLAN, results=[])
    payload: dict[str, Any] = event.model_dump(mode="json")
    return payload


def with_cycle(payload: dict[str, Any]) -> dict[str, Any]:
    payload["plan"]["steps"] = [
        {"id": "a", "tool": "math", "args": {"expression": "1"}, "depends_on": ["b"]},
        {"id": "b", "tool": "math", "args": {"expression": "2"}, "depends_on": ["a"]},
    ]
    return payload


# (topic attribute, consumer, how to make the payload, whether to key it, the reason's expected words)
CASES = [
    ("task_submitted", "planner", lambda t: b"\x00\xff garbage", True, "payload is not JSON"),
    (
        "plan_created",
        "executor",
        lambda t: plan_created(t) | {"iteration": "first"},
        True,
        "iteration: Input should be a valid integer",
    ),
    ("plan_created", "executor", lambda t: plan_created(t), False, "must be the event's task id"),
    (
        "plan_created",
        "executor",
        lambda t: plan_created(t) | {"schema_version": 5},
        True,
        "schema_version 5 of 'plan.created' is newer",
    ),
    ("plan_created", "executor", lambda t: with_cycle(plan_created(t)), True, "dependency cycle"),
    (
        "execution_completed",
        "reviewer",
        lambda t: {"type": "task.submitted", "task_id": t},
        True,
        "invalid task.submitted event",
    ),
    (
        "review_completed",
        "planner",
        lambda t: execution_completed(t),
        True,
        "a execution.completed event does not belong on",
    ),
    ("cancel_requested", "planner", lambda t: [t], True, "payload must be a JSON object"),
]


@pytest.mark.parametrize(("topic", "consumer", "make", "keyed", "reason"), CASES)
async def test_a_hostile_event_is_dead_lettered_and_the_partition_flows_on(
    topic: str,
    consumer: str,
    make: Any,
    keyed: bool,
    reason: str,
    pipeline: Pipeline,
    producer: AIOKafkaProducer,
    events: EventLog,
) -> None:
    task_id = f"hostile-{uuid.uuid4().hex[:10]}"
    payload = make(task_id)
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    await producer.send_and_wait(
        getattr(pipeline.topics, topic), raw, key=task_id.encode() if keyed else None
    )
    following = await submit(producer, pipeline)

    def letter_for_it() -> bool:
        return any(base64.b64decode(d.original_base64) == raw for d in events.dead_letters)

    await events.wait_for(letter_for_it, timeout_s=60)
    letter = next(d for d in events.dead_letters if base64.b64decode(d.original_base64) == raw)
    assert (letter.source_topic, letter.consumer) == (getattr(pipeline.topics, topic), consumer)
    assert reason in letter.reason, letter.reason
    await events.wait_for(lambda: bool(events.finished(following)), timeout_s=60)
    assert the_outcome(events, following).status is FinalStatus.SUCCEEDED
