"""Bad input ends as a clear rejection or failure, and the tasks after it flow on."""

from __future__ import annotations

import base64
import json
import uuid

from aiokafka import AIOKafkaProducer

from schemas import FinalStatus, TaskRequest, TaskSubmitted, encode_event
from tests.e2e.conftest import Pipeline
from tests.e2e.event_log import EventLog
from tests.e2e.test_pipeline_over_kafka import DEMO, submit, the_outcome


async def test_malformed_json_is_dead_lettered_with_its_bytes_and_reason(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    garbage = b"{not json " + uuid.uuid4().hex.encode()
    await producer.send_and_wait(pipeline.topics.task_submitted, garbage, key=b"whatever")
    following = await submit(producer, pipeline)

    await events.wait_for(
        lambda: any(base64.b64decode(d.original_base64) == garbage for d in events.dead_letters)
    )
    letter = next(d for d in events.dead_letters if base64.b64decode(d.original_base64) == garbage)
    assert letter.source_topic == pipeline.topics.task_submitted and letter.consumer == "planner"
    assert letter.reason.startswith("payload is not JSON")
    await events.wait_for(lambda: bool(events.finished(following)))
    assert the_outcome(events, following).status is FinalStatus.SUCCEEDED


async def test_an_unknown_schema_version_is_dead_lettered_naming_the_task(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    task_id = f"e2e-future-{uuid.uuid4().hex[:8]}"
    payload = json.loads(encode_event(TaskSubmitted(task_id=task_id, request=TaskRequest(description=DEMO))))
    payload["schema_version"] = 99
    await producer.send_and_wait(
        pipeline.topics.task_submitted, json.dumps(payload).encode(), key=task_id.encode()
    )

    await events.wait_for(lambda: any(d.task_id == task_id for d in events.dead_letters))
    letter = next(d for d in events.dead_letters if d.task_id == task_id)
    assert "schema_version 99 of 'task.submitted' is newer than this code understands" in letter.reason


async def test_a_plan_naming_an_unknown_tool_fails_the_task_saying_so(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    task_id = await submit(producer, pipeline, f"{DEMO} [unknown-tool]")
    following = await submit(producer, pipeline)
    await events.wait_for(lambda: bool(events.finished(task_id) and events.finished(following)))
    outcome = the_outcome(events, task_id)
    assert outcome.status is FinalStatus.FAILED
    assert "step 'beam' uses unknown tool 'teleport'" in (outcome.reason or "")
    assert the_outcome(events, following).status is FinalStatus.SUCCEEDED
