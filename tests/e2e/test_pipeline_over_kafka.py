"""Tasks published straight onto Kafka go plan, execute, review until they end, exactly once."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer

from schemas import (
    FinalStatus,
    PlanCreated,
    ReviewCompleted,
    StepPhase,
    StepProgressed,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Verdict,
    encode_event,
)
from tests.e2e.conftest import Pipeline
from tests.e2e.event_log import EventLog

DEMO = "Give me the call sequence from main() to process_data() in the sample project"
# Read off samples/callchain_app: run_pipeline reaches process_data directly in batches, or through transform.
EXPECTED_SEQUENCES = [
    [
        "app.main.main",
        "app.pipeline.run_pipeline",
        "app.pipeline.run_in_batches",
        "app.processing.process_data",
    ],
    ["app.main.main", "app.pipeline.run_pipeline", "app.stages.transform", "app.processing.process_data"],
]


async def submit(producer: AIOKafkaProducer, pipeline: Pipeline, description: str = DEMO) -> str:
    task_id = f"e2e-{uuid.uuid4().hex[:10]}"
    event = TaskSubmitted(task_id=task_id, tenant="acme", request=TaskRequest(description=description))
    await producer.send_and_wait(pipeline.topics.task_submitted, encode_event(event), key=task_id.encode())
    return task_id


def the_outcome(events: EventLog, task_id: str) -> TaskFinished:
    """The task's one final result: every copy on the topic is the same event."""
    finished = events.finished(task_id)
    assert len({f.event_id for f in finished}) == 1 and all(f == finished[0] for f in finished), finished
    return finished[0]


async def test_a_task_published_to_kafka_is_revised_once_then_approved(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    task_id = await submit(producer, pipeline)
    await events.wait_for(lambda: bool(events.finished(task_id)))
    outcome = the_outcome(events, task_id)
    assert outcome.status is FinalStatus.SUCCEEDED, outcome.reason
    assert isinstance(outcome.result, dict) and isinstance(outcome.result["call_sequences"], list)
    assert sorted(map(str, outcome.result["call_sequences"])) == sorted(map(str, EXPECTED_SEQUENCES))
    history = events.by_task[task_id]
    assert [(e.iteration, e.planner) for e in history if isinstance(e, PlanCreated)] == [
        (1, "openai:gpt-4o"),
        (2, "openai:gpt-4o"),
    ]
    assert [(e.iteration, e.verdict) for e in history if isinstance(e, ReviewCompleted)] == [
        (1, Verdict.REVISE),
        (2, Verdict.APPROVED),
    ]
    assert {(e.iteration, e.phase) for e in history if isinstance(e, StepProgressed)} == {
        (i, p) for i in (1, 2) for p in StepPhase
    }


async def test_twenty_tasks_at_once_all_succeed_with_one_final_result_each(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    task_ids = await asyncio.gather(*(submit(producer, pipeline) for _ in range(20)))
    await events.wait_for(lambda: all(events.finished(t) for t in task_ids), timeout_s=120)
    outcomes = [the_outcome(events, t) for t in task_ids]
    assert [o.status for o in outcomes] == [FinalStatus.SUCCEEDED] * 20
