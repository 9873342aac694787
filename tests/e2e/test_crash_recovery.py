"""kill -9 of a worker in the middle of a task, then a restart: the task still ends, exactly once."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaProducer

from schemas import FinalStatus, StepPhase, StepProgressed
from tests.e2e.conftest import Pipeline
from tests.e2e.event_log import EventLog
from tests.e2e.test_pipeline_over_kafka import DEMO, submit, the_outcome


async def _until_the_worker_is_busy(
    service: str, pipeline: Pipeline, events: EventLog, task_id: str, nonce: str
) -> None:
    if service == "executor_svc":
        await events.wait_for(
            lambda: any(
                isinstance(e, StepProgressed) and e.step_id == "pause" and e.phase is StepPhase.STARTED
                for e in events.by_task[task_id]
            )
        )
    else:
        role = service.removesuffix("_svc")
        await events.wait_for(lambda: pipeline.llm.asked(role, nonce), timeout_s=30)


@pytest.mark.parametrize("service", ["planner_svc", "executor_svc", "reviewer_svc"])
async def test_a_worker_killed_mid_task_is_restarted_and_the_task_ends_once(
    service: str, pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    nonce = uuid.uuid4().hex
    role = service.removesuffix("_svc")
    task_id = await submit(producer, pipeline, f"{DEMO} [slow:{role}] {nonce}")
    await _until_the_worker_is_busy(service, pipeline, events, task_id, nonce)

    pipeline.services[service].kill9()
    assert not events.finished(task_id)
    pipeline.services[service].start()

    await events.wait_for(lambda: bool(events.finished(task_id)), timeout_s=120)
    outcome = the_outcome(events, task_id)
    assert outcome.status is FinalStatus.SUCCEEDED, outcome.reason
