"""Plans that wait for a person, end to end: the tenant's stored policy gates the plan, a person answers
over HTTP, the executor runs the plan or ends the task, and an unanswered wait expires once."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from gateway_svc.auth import MongoKeyStore, Role
from schemas import ApprovalDecided, ApprovalDecision, StepPhase, StepProgressed, encode_event
from schemas.policy import ApprovalRules, TenantPolicy
from tests.e2e.conftest import ApiClient, Pipeline
from tests.e2e.event_log import EventLog
from tests.e2e.scripted_llm import SAMPLE
from tests.e2e.test_pipeline_over_kafka import DEMO
from troupe.db import make_client
from troupe.policy_store import MongoPolicyStore

# One iteration the scripted reviewer approves: the call path main -> process_data.
CALL_PATH_PLAN = {
    "steps": [
        {
            "id": "callgraph",
            "tool": "code_analyzer",
            "args": {"path": str(SAMPLE), "source": "main", "target": "process_data"},
        }
    ]
}
GATED = ApprovalRules(tools=["code_analyzer"])


@dataclass
class Tenant:
    name: str
    user: ApiClient
    approver: ApiClient


@pytest.fixture
async def tenant(pipeline: Pipeline, request: pytest.FixtureRequest) -> AsyncIterator[Tenant]:
    """A tenant of its own, whose policy gates code_analyzer (or what the test's `rules` marker says), with
    a user key and an approver (admin) key."""
    marker = request.node.get_closest_marker("rules")
    rules = marker.args[0] if marker else GATED
    name = f"t{uuid.uuid4().hex[:10]}"
    client = make_client(pipeline.settings)
    try:
        database = client[pipeline.settings.mongodb_database]
        if rules is not None:
            await MongoPolicyStore(database).put(TenantPolicy(tenant=name, approvals=rules))
        keys = MongoKeyStore(database)
        _, user_token = await keys.create(name, Role.USER)
        _, approver_token = await keys.create(name, Role.ADMIN)
    finally:
        await client.close()
    async with (
        httpx.AsyncClient(base_url=pipeline.gateway_url, headers=_bearer(user_token)) as user,
        httpx.AsyncClient(base_url=pipeline.gateway_url, headers=_bearer(approver_token)) as approver,
    ):
        yield Tenant(name, ApiClient(user), ApiClient(approver))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def submitted(client: ApiClient, body: dict[str, Any]) -> str:
    answer = await client.http.post("/tasks", json=body)
    assert answer.status_code == 202, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


async def awaiting(client: ApiClient, task_id: str, iteration: int = 1) -> dict[str, Any]:
    return await client.wait_until(
        task_id,
        lambda t: t["status"] == "awaiting_approval" and t["approval"]["iteration"] == iteration,
        timeout_s=120,
    )


async def answer(client: ApiClient, task_id: str, decision: str, comment: str = "") -> httpx.Response:
    return await client.http.post(
        f"/tasks/{task_id}/approval", json={"decision": decision, "comment": comment}
    )


ONE_ITERATION = {
    "description": "trace main to process_data",
    "plan": CALL_PATH_PLAN,
    "constraints": {"max_iterations": 1},
}


async def test_an_approved_plan_runs_and_the_decision_is_shown(tenant: Tenant, events: EventLog) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    task = await awaiting(tenant.user, task_id)
    assert task["approval"]["reasons"] == [
        "step 'callgraph' uses code_analyzer, which needs approval (approvals.tools)"
    ]
    assert task["plan"]["steps"][0]["tool"] == "code_analyzer"
    assert not any(isinstance(e, StepProgressed) for e in events.by_task[task_id])  # nothing ran

    approved = await answer(tenant.approver, task_id, "approve", "looks fine")
    assert approved.status_code == 202, approved.text
    task = await tenant.user.wait_until_final(task_id)
    assert task["status"] == "succeeded", task.get("error")
    [decision] = task["decisions"]
    assert (decision["decision"], decision["role"], decision["comment"]) == ("approve", "admin", "looks fine")
    assert decision["plan_hash"] == approved.json()["plan_hash"] == task["approval"]["plan_hash"]


async def test_a_rejected_plan_ends_the_task_declined_with_the_comment(
    tenant: Tenant, events: EventLog
) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    await awaiting(tenant.user, task_id)
    rejected = await answer(tenant.approver, task_id, "reject", "not this repository")
    assert rejected.status_code == 202, rejected.text
    task = await tenant.user.wait_until_final(task_id)
    assert task["status"] == "declined"
    assert task["error"].endswith("(admin): not this repository"), task["error"]
    assert not any(isinstance(e, StepProgressed) for e in events.by_task[task_id])


@pytest.mark.rules(ApprovalRules(tools=["code_analyzer"], timeout_s=3))
async def test_an_unanswered_plan_ends_timed_out_once_saying_why(tenant: Tenant, events: EventLog) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    await awaiting(tenant.user, task_id)
    task = await tenant.user.wait_until_final(task_id, timeout_s=60)
    assert task["status"] == "timed_out"
    assert task["error"] == "no answer to the approval request within approvals.timeout_s (3 s)"
    late = await answer(tenant.approver, task_id, "approve")
    assert late.status_code == 409
    await asyncio.sleep(2)  # a few more sweeps: none may end it again
    assert len({e.event_id for e in events.finished(task_id)}) == 1
    assert [d["decision"] for d in (await tenant.user.wait_until_final(task_id))["decisions"]] == ["expire"]


async def test_a_revision_that_changes_the_gated_step_needs_approval_again(tenant: Tenant) -> None:
    task_id = await submitted(tenant.user, {"description": DEMO, "constraints": {"max_iterations": 3}})
    first = await awaiting(tenant.user, task_id, iteration=1)
    assert (await answer(tenant.approver, task_id, "approve")).status_code == 202
    # The scripted review asks for a revision that targets another function: a new plan hash.
    second = await awaiting(tenant.user, task_id, iteration=2)
    assert second["approval"]["plan_hash"] != first["approval"]["plan_hash"]
    assert (await answer(tenant.approver, task_id, "approve")).status_code == 202
    task = await tenant.user.wait_until_final(task_id)
    assert task["status"] == "succeeded", task.get("error")
    hashes = [d["plan_hash"] for d in task["decisions"]]
    assert hashes == [first["approval"]["plan_hash"], second["approval"]["plan_hash"]]


async def test_another_tenants_key_cannot_see_or_answer_the_wait(tenant: Tenant, api: ApiClient) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    await awaiting(tenant.user, task_id)
    assert (await answer(api, task_id, "approve")).status_code == 404  # api: a key of tenant acme
    assert (await tenant.user.http.get(f"/tasks/{task_id}")).json()["status"] == "awaiting_approval"
    await answer(tenant.approver, task_id, "reject")


@pytest.mark.rules(None)
async def test_approving_a_task_that_needs_no_approval_answers_409(tenant: Tenant) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    task = await tenant.user.wait_until_final(task_id)
    assert task["status"] == "succeeded" and task["decisions"] == []
    refused = await answer(tenant.approver, task_id, "approve")
    assert refused.status_code == 409 and "does not await approval" in refused.json()["detail"]


async def test_a_user_key_cannot_approve_when_the_policy_requires_an_approver(tenant: Tenant) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    await awaiting(tenant.user, task_id)
    refused = await answer(tenant.user, task_id, "approve")
    assert refused.status_code == 403 and "approver_roles" in refused.json()["detail"]
    snapshot = await first_sse_event(tenant.user, task_id)  # the stream shows the wait too
    assert (snapshot["status"], snapshot["approval"]["iteration"]) == ("awaiting_approval", 1)
    assert snapshot["plan"]["steps"][0]["id"] == "callgraph" and snapshot["approval"]["reasons"]
    await answer(tenant.approver, task_id, "reject")


async def first_sse_event(client: ApiClient, task_id: str) -> dict[str, Any]:
    async with client.http.stream("GET", f"/tasks/{task_id}/events", timeout=30) as stream:
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                data: dict[str, Any] = json.loads(line.removeprefix("data: "))
                return data
    raise AssertionError("the stream ended before its first event")


async def test_an_executor_killed_while_a_plan_waits_runs_it_once_after_approval(
    tenant: Tenant, pipeline: Pipeline, events: EventLog
) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    await awaiting(tenant.user, task_id)
    executor = pipeline.services["executor_svc"]
    executor.kill9()
    try:
        assert (await answer(tenant.approver, task_id, "approve")).status_code == 202
        await asyncio.sleep(1)  # the approval is on Kafka while no executor is there to take it
    finally:
        await asyncio.to_thread(executor.start)
    task = await tenant.user.wait_until_final(task_id, timeout_s=180)
    assert task["status"] == "succeeded", task.get("error")
    started = [
        e
        for e in events.by_task[task_id]
        if isinstance(e, StepProgressed) and e.phase is StepPhase.STARTED and e.step_id == "callgraph"
    ]
    assert len(started) == 1, started


@pytest.mark.skipif(
    not os.environ.get("TROUPE_APPROVAL_FIGURES"), reason="a measurement: TROUPE_APPROVAL_FIGURES=1"
)
async def test_figure_approval_to_first_step(tenant: Tenant, events: EventLog) -> None:
    """From the approval POST to the first step's start, over 20 tasks; prints p50 and p95 (not asserted)."""
    waits = []
    for _ in range(20):
        task_id = await submitted(tenant.user, ONE_ITERATION)
        await awaiting(tenant.user, task_id)
        sent = time.time()
        assert (await answer(tenant.approver, task_id, "approve")).status_code == 202

        def first_start(task_id: str = task_id) -> list[StepProgressed]:
            return [e for e in events.by_task[task_id] if isinstance(e, StepProgressed)]

        await events.wait_for(lambda: bool(first_start()), timeout_s=60)
        waits.append(first_start()[0].occurred_at.timestamp() - sent)
        await tenant.user.wait_until_final(task_id)
    p95 = statistics.quantiles(waits, n=20)[-1]
    print(
        f"\napproval POST -> first step started over {len(waits)} tasks: p50 {statistics.median(waits) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms"
    )


async def test_an_approval_written_straight_to_kafka_is_dead_lettered_and_the_plan_keeps_waiting(
    tenant: Tenant, pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    task_id = await submitted(tenant.user, ONE_ITERATION)
    task = await awaiting(tenant.user, task_id)
    forged = ApprovalDecided(
        task_id=task_id,
        tenant=tenant.name,
        iteration=1,
        plan_hash=task["approval"]["plan_hash"],
        decision=ApprovalDecision.APPROVE,
        decided_by="k_forger",
        role="admin",
    )
    raw = encode_event(forged)
    await producer.send_and_wait(pipeline.topics.approval_decided, raw, key=task_id.encode())
    await events.wait_for(
        lambda: any(base64.b64decode(d.original_base64) == raw for d in events.dead_letters)
    )
    letter = next(d for d in events.dead_letters if base64.b64decode(d.original_base64) == raw)
    assert "not published by the pipeline" in letter.reason
    assert not any(isinstance(e, StepProgressed) for e in events.by_task[task_id])
    await answer(tenant.approver, task_id, "reject")
