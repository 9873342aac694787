"""Hostile events on every topic a worker consumes are dead-lettered with a reason, and the partition flows on."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas import (
    CancelRequested,
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanCreated,
    PlanStep,
    ReviewCompleted,
    TaskContext,
    TaskRequest,
    TaskSubmitted,
    Verdict,
    encode_event,
    utc_now,
)
from tests.e2e.conftest import ApiClient, Pipeline
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


FIVE_MB = 5 * 1024 * 1024

# topic attribute -> (its consumer, a valid event for it); each is padded to 5 MB below.
LARGE_CASES: dict[str, tuple[str, Any]] = {
    "task_submitted": (
        "planner",
        lambda t: TaskSubmitted(task_id=t, request=TaskRequest(description="large")),
    ),
    "plan_created": ("executor", lambda t: PlanCreated(task_id=t, context=CONTEXT, plan=PLAN)),
    "execution_completed": (
        "reviewer",
        lambda t: ExecutionCompleted(task_id=t, context=CONTEXT, plan=PLAN, results=[]),
    ),
    "review_completed": (
        "planner",
        lambda t: ReviewCompleted(task_id=t, context=CONTEXT, plan=PLAN, results=[], verdict=Verdict.REVISE),
    ),
    "cancel_requested": ("planner", lambda t: CancelRequested(task_id=t)),
}


def padded_to(raw: bytes, size: int) -> bytes:
    """The event's JSON with whitespace before its closing brace: a valid event, only too large."""
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


@pytest.fixture
async def large_producer(pipeline: Pipeline) -> AsyncIterator[AIOKafkaProducer]:
    """A producer allowed requests as large as the topics accept (aiokafka's default stops at 1 MiB)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=pipeline.settings.kafka_bootstrap_servers,
        acks="all",
        max_request_size=pipeline.settings.kafka_max_message_bytes,
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@pytest.mark.parametrize("topic", list(LARGE_CASES))
async def test_a_five_megabyte_event_is_refused_by_its_size_and_dead_lettered_whole(
    topic: str,
    pipeline: Pipeline,
    producer: AIOKafkaProducer,
    large_producer: AIOKafkaProducer,
    events: EventLog,
) -> None:
    consumer, make = LARGE_CASES[topic]
    task_id = f"large-{uuid.uuid4().hex[:10]}"
    raw = padded_to(encode_event(make(task_id)), FIVE_MB)
    sent = await large_producer.send_and_wait(getattr(pipeline.topics, topic), raw, key=task_id.encode())
    following = await submit(producer, pipeline)

    def letter_for_it() -> bool:
        return any(d.task_id == task_id and d.consumer == consumer for d in events.dead_letters)

    await events.wait_for(letter_for_it, timeout_s=60)
    letter = next(d for d in events.dead_letters if d.task_id == task_id and d.consumer == consumer)
    assert base64.b64decode(letter.original_base64) == raw  # whole: all 5 MB, byte for byte
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        sent.topic,
        sent.partition,
        sent.offset,
    )
    limit = pipeline.settings.max_event_bytes
    assert f"event is {FIVE_MB:,} bytes, over the limit of {limit:,} bytes" in letter.reason, letter.reason
    assert (letter.original_key, letter.tenant) == (task_id, "default")
    await events.wait_for(lambda: bool(events.finished(following)), timeout_s=60)
    assert the_outcome(events, following).status is FinalStatus.SUCCEEDED


@pytest.mark.parametrize("chunked", [False, True], ids=["declared length", "chunked"])
async def test_a_five_megabyte_task_over_http_is_413_with_the_size_and_the_limit(
    pipeline: Pipeline, api: ApiClient, chunked: bool
) -> None:
    step = {"id": "a", "tool": "math", "args": {"expression": "1+1", "padding": "x" * FIVE_MB}}
    body = json.dumps({"description": "large", "plan": {"steps": [step]}}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    answer = await api.http.post(
        "/tasks", content=chunks() if chunked else body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    detail = answer.json()["detail"]
    limit = pipeline.settings.max_event_bytes
    size = "request body is over" if chunked else f"request body is {len(body):,} bytes"
    assert f"{size}" in detail and f"over the limit of {limit:,} bytes (TROUPE_MAX_EVENT_BYTES)" in detail
