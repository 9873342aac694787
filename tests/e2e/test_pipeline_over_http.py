"""The pipeline through the gateway: what a person sees over HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
from aiokafka import AIOKafkaProducer

from schemas import TaskRequest, TaskSubmitted, encode_event
from tests.e2e.conftest import RATE_LIMIT_PER_MINUTE, ApiClient, Pipeline
from tests.e2e.test_pipeline_over_kafka import DEMO, EXPECTED_SEQUENCES


def _sequences(task: dict[str, object]) -> list[str]:
    result = task["result"]
    assert isinstance(result, dict) and isinstance(result["call_sequences"], list)
    return sorted(map(str, result["call_sequences"]))


async def test_a_task_submitted_over_http_is_revised_then_succeeds_with_logs_and_a_trace(
    api: ApiClient,
) -> None:
    answer = await api.http.post("/tasks", json={"description": DEMO, "constraints": {"max_iterations": 3}})
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]

    task = await api.wait_until_final(task_id)
    assert task["status"] == "succeeded", task.get("error")
    # The end and the last review travel on different topics; the projection may see the end first.
    task = await api.wait_until(task_id, lambda t: (t.get("review") or {}).get("iteration") == 2)
    assert _sequences(task) == sorted(map(str, EXPECTED_SEQUENCES))
    assert (task["iteration"], task["review"]["verdict"], task["progress"]) == (2, "approved", 1.0)
    assert task["usage"]["llm_calls"] == 4 and task["usage"]["tokens_in"] == 400
    assert re.fullmatch(r"[0-9a-f]{32}", task["trace_id"] or ""), task["trace_id"]

    logs = (await api.http.get(f"/tasks/{task_id}/logs", params={"limit": 100})).json()["items"]
    types = [entry["type"] for entry in logs]
    assert types.count("plan.created") == 2 and types.count("review.completed") == 2
    assert types[-1] == "task.finished"


async def test_a_task_published_straight_to_kafka_is_visible_through_the_api(
    api: ApiClient, pipeline: Pipeline, producer: AIOKafkaProducer
) -> None:
    task_id = f"kafka-{uuid.uuid4().hex[:10]}"
    event = TaskSubmitted(task_id=task_id, tenant="acme", request=TaskRequest(description=DEMO))
    await producer.send_and_wait(pipeline.topics.task_submitted, encode_event(event), key=task_id.encode())
    task = await api.wait_until_final(task_id)
    assert task["status"] == "succeeded" and _sequences(task) == sorted(map(str, EXPECTED_SEQUENCES))


async def test_bad_input_ends_as_a_visible_rejection_or_failure_and_later_tasks_flow(
    api: ApiClient, pipeline: Pipeline, producer: AIOKafkaProducer
) -> None:
    future = f"future-{uuid.uuid4().hex[:8]}"
    payload = json.loads(
        encode_event(TaskSubmitted(task_id=future, tenant="acme", request=TaskRequest(description=DEMO)))
    )
    payload["schema_version"] = 7
    await producer.send_and_wait(
        pipeline.topics.task_submitted, json.dumps(payload).encode(), key=future.encode()
    )
    unknown_tool = (await api.http.post("/tasks", json={"description": f"{DEMO} [unknown-tool]"})).json()[
        "task_id"
    ]
    following = (await api.http.post("/tasks", json={"description": DEMO})).json()["task_id"]

    rejected, failed, succeeded = await asyncio.gather(
        api.wait_until_final(future), api.wait_until_final(unknown_tool), api.wait_until_final(following)
    )
    assert rejected["status"] == "rejected" and "schema_version 7" in rejected["error"]
    assert failed["status"] == "failed" and "unknown tool 'teleport'" in failed["error"]
    assert succeeded["status"] == "succeeded"


async def test_invalid_requests_get_a_readable_4xx(api: ApiClient) -> None:
    answer = await api.http.post("/tasks", json={"description": "", "constraints": {"max_iterations": 0}})
    assert answer.status_code == 422
    assert "description" in answer.text and "max_iterations" in answer.text


async def test_no_key_is_401_and_another_tenants_task_is_404(api: ApiClient, pipeline: Pipeline) -> None:
    task_id = (await api.http.post("/tasks", json={"description": "evaluate 1+1"})).json()["task_id"]
    async with httpx.AsyncClient(base_url=pipeline.gateway_url) as anonymous:
        answer = await anonymous.get(f"/tasks/{task_id}")
        assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
        other = await anonymous.get(
            f"/tasks/{task_id}", headers={"Authorization": f"Bearer {pipeline.admin_key}"}
        )
    assert other.status_code == 404 and task_id in other.json()["detail"]


async def test_a_burst_past_the_rate_limit_gets_429_with_retry_after(api: ApiClient) -> None:
    # The limit counts per one-minute window; a burst that straddles a window boundary needs up to twice
    # the limit before one window holds more than the limit.
    limited = None
    for _ in range(2 * RATE_LIMIT_PER_MINUTE + 5):
        answer = await api.http.get("/tasks")
        if answer.status_code == 429:
            limited = answer
            break
        assert answer.status_code == 200, answer.text
    assert limited is not None, "no 429 after twice the per-minute limit"
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["detail"]
