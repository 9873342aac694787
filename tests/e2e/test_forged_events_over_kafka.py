"""Forged events published straight to Kafka, against the real services: refused, dead-lettered or flagged.

A writer on the topics (no ACLs yet, docs/security.md) tries a plan with a tool the task does not allow, a
submission that takes another tenant's task id, and a fake successful ending.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer

from schemas import (
    FinalStatus,
    PlanCreated,
    PlanStep,
    StepProgressed,
    TaskConstraints,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    encode_event,
)
from tests.e2e.conftest import ApiClient, Pipeline
from tests.e2e.event_log import EventLog
from tests.e2e.test_pipeline_over_kafka import DEMO, the_outcome


async def publish(
    producer: AIOKafkaProducer, topic: str, event: PlanCreated | TaskSubmitted | TaskFinished
) -> bytes:
    raw = encode_event(event)
    await producer.send_and_wait(topic, raw, key=event.task_id.encode())
    return raw


async def test_a_forged_plan_with_a_tool_the_task_does_not_allow_is_dead_lettered_and_never_run(
    api: ApiClient, pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    only = {"description": DEMO, "constraints": {"allowed_tools": ["code_analyzer"]}}
    task_id = (await api.http.post("/tasks", json=only)).json()["task_id"]
    await events.wait_for(lambda: any(isinstance(e, PlanCreated) for e in events.by_task[task_id]))
    real = next(e for e in events.by_task[task_id] if isinstance(e, PlanCreated))
    shell = PlanStep(id="shell", tool="python_exec", args={"code": "print(open('/etc/passwd').read())"})
    anything = real.context.request.model_copy(update={"constraints": TaskConstraints(allowed_tools=None)})
    forged = real.model_copy(
        update={
            "plan": real.plan.model_copy(update={"steps": [shell]}),
            "context": real.context.model_copy(update={"request": anything}),
        }
    )
    raw = await publish(producer, pipeline.topics.plan_created, forged)

    def refused() -> bool:
        return any(base64.b64decode(d.original_base64) == raw for d in events.dead_letters)

    await events.wait_for(refused, timeout_s=90)
    letter = next(d for d in events.dead_letters if base64.b64decode(d.original_base64) == raw)
    assert letter.consumer == "executor" and "not the plan.created the pipeline recorded" in letter.reason
    await events.wait_for(lambda: bool(events.finished(task_id)), timeout_s=90)
    assert the_outcome(events, task_id).status is FinalStatus.SUCCEEDED
    ran = {e.tool for e in events.by_task[task_id] if isinstance(e, StepProgressed)}
    assert ran == {"code_analyzer"}


async def test_a_submission_taking_another_tenants_task_id_is_refused_and_the_task_keeps_its_tenant(
    api: ApiClient, pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    task_id = (await api.http.post("/tasks", json={"description": DEMO})).json()["task_id"]
    await api.wait_until(task_id, lambda task: task["status"] != "submitted")
    hijack = TaskSubmitted(task_id=task_id, tenant="mallory", request=TaskRequest(description="mine now"))
    raw = await publish(producer, pipeline.topics.task_submitted, hijack)

    task = await api.wait_until(task_id, lambda task: bool(task.get("flags")), timeout_s=90)
    assert task["tenant"] == "acme" and task["description"] == DEMO
    flagged = [(f["event_id"], f["type"]) for f in task["flags"]]
    # The planner's dead letter of the forgery names the forger's tenant too, so it may be flagged beside it.
    assert (hijack.event_id, "task.submitted") in flagged
    assert {kind for _, kind in flagged} <= {"task.submitted", "event.dead_lettered"}

    def refused() -> bool:
        return any(base64.b64decode(d.original_base64) == raw for d in events.dead_letters)

    await events.wait_for(refused, timeout_s=90)
    letter = next(d for d in events.dead_letters if base64.b64decode(d.original_base64) == raw)
    assert letter.consumer == "planner" and "already belongs to another tenant" in letter.reason
    assert (await api.wait_until_final(task_id))["status"] == "succeeded"


async def test_a_fake_successful_ending_is_flagged_and_the_real_result_stays(
    api: ApiClient, pipeline: Pipeline, producer: AIOKafkaProducer
) -> None:
    task_id = (await api.http.post("/tasks", json={"description": DEMO})).json()["task_id"]
    done = await api.wait_until_final(task_id)
    assert done["status"] == "succeeded"
    # Backdated to just after the submission, so that by time it would be the task's first ending.
    fake = TaskFinished(
        task_id=task_id,
        tenant="acme",
        iteration=1,
        status=FinalStatus.SUCCEEDED,
        result={"call_sequences": [["forged"]]},
        finished_by="reviewer",
        occurred_at=datetime.fromisoformat(done["created_at"]) + timedelta(milliseconds=1),
    )
    await publish(producer, pipeline.topics.task_finished, fake)

    task = await api.wait_until(task_id, lambda task: bool(task.get("flags")), timeout_s=90)
    assert [(f["event_id"], f["type"]) for f in task["flags"]] == [(fake.event_id, "task.finished")]
    assert task["status"] == "succeeded" and task["result"] == done["result"]
    assert task["finished_by"] == "reviewer"
