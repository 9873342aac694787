"""The gateway over HTTP against real Kafka and FerretDB: submit, read, authenticate, limit, cancel."""

from __future__ import annotations

import asyncio

import httpx

from gateway_svc.auth import MongoKeyStore
from gateway_svc.rate_limit import window_of
from gateway_svc.settings import GatewaySettings
from schemas import CancelRequested, TaskSubmitted, decode_event, utc_now

from .conftest import bearer, eventually, running_gateway, topic_records

TASK = {"description": "evaluate 2**10", "constraints": {"max_iterations": 2}}


async def test_submit_publishes_the_task_keyed_by_its_id_for_the_callers_tenant(
    gateway: httpx.AsyncClient, gateway_settings: GatewaySettings, keys: MongoKeyStore
) -> None:
    _, token = await keys.create("acme")
    answer = await gateway.post("/tasks", json=TASK, headers=bearer(token))
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    assert answer.headers["location"] == f"/tasks/{task_id}"

    [record] = await topic_records(gateway_settings, gateway_settings.topics.task_submitted)
    event = decode_event(record.value)
    assert isinstance(event, TaskSubmitted)
    assert record.key == task_id.encode()
    assert (event.task_id, event.tenant, event.request.description) == (task_id, "acme", TASK["description"])

    async def projected() -> dict[str, object] | None:
        got = await gateway.get(f"/tasks/{task_id}", headers=bearer(token))
        return got.json() if got.status_code == 200 else None

    task = await eventually(projected, "the projection never showed the task")
    assert (task["status"], task["tenant"], task["progress"]) == ("submitted", "acme", 0.0)
    assert task["constraints"]["max_iterations"] == 2


async def test_the_same_idempotency_key_returns_the_same_task_published_once(
    gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
) -> None:
    headers = {"Idempotency-Key": "order-7"}
    first, second = [await gateway.post("/tasks", json=TASK, headers=headers) for _ in range(2)]
    assert first.status_code == second.status_code == 202
    assert first.json()["task_id"] == second.json()["task_id"]
    other = await gateway.post("/tasks", json={"description": "something else"}, headers=headers)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]
    assert len(await topic_records(gateway_settings, gateway_settings.topics.task_submitted)) == 1


async def test_requests_without_a_valid_key_are_refused_with_401(gateway: httpx.AsyncClient) -> None:
    anonymous = await gateway.post("/tasks", json=TASK, headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in anonymous.json()["detail"]
    wrong = await gateway.get("/tasks", headers=bearer("not-a-key"))
    assert wrong.status_code == 401


async def test_a_revoked_key_stops_working(gateway: httpx.AsyncClient, keys: MongoKeyStore) -> None:
    key, token = await keys.create("acme")
    assert (await gateway.get("/tasks", headers=bearer(token))).status_code == 200
    assert await keys.revoke(key.key_id)
    assert (await gateway.get("/tasks", headers=bearer(token))).status_code == 401


async def test_invalid_bodies_get_422_with_the_field_path(gateway: httpx.AsyncClient) -> None:
    answer = await gateway.post("/tasks", json={"description": "x", "constraints": {"max_iterations": 0}})
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "constraints", "max_iterations"]
    assert (await gateway.post("/tasks", content=b"{not json")).status_code == 422
    assert (await gateway.get("/tasks/bad id!")).status_code == 422


async def test_another_tenants_task_is_not_found(gateway: httpx.AsyncClient, keys: MongoKeyStore) -> None:
    _, acme = await keys.create("acme")
    _, globex = await keys.create("globex")
    task_id = (await gateway.post("/tasks", json=TASK, headers=bearer(acme))).json()["task_id"]

    async def listed() -> list[dict[str, object]]:
        return (await gateway.get("/tasks", headers=bearer(acme))).json()["items"]  # type: ignore[no-any-return]

    [mine] = await eventually(listed, "acme never saw its task")
    assert mine["task_id"] == task_id
    for path in (f"/tasks/{task_id}", f"/tasks/{task_id}/logs"):
        answer = await gateway.get(path, headers=bearer(globex))
        assert answer.status_code == 404
        assert answer.json()["detail"] == f"task {task_id} not found"
    assert (await gateway.delete(f"/tasks/{task_id}", headers=bearer(globex))).status_code == 404
    assert (await gateway.get("/tasks", headers=bearer(globex))).json()["items"] == []


async def test_cancel_publishes_a_cancel_request(
    gateway: httpx.AsyncClient, gateway_settings: GatewaySettings
) -> None:
    task_id = (await gateway.post("/tasks", json=TASK)).json()["task_id"]
    await eventually(lambda: _status(gateway, task_id), "the task was never projected")
    answer = await gateway.delete(f"/tasks/{task_id}")
    assert answer.status_code == 202
    [record] = await topic_records(gateway_settings, gateway_settings.topics.cancel_requested)
    assert record.key == task_id.encode()
    assert isinstance(decode_event(record.value), CancelRequested)

    async def flagged() -> bool:
        return bool((await gateway.get(f"/tasks/{task_id}")).json()["cancel_requested"])

    await eventually(flagged, "the cancel request never reached the projection")


async def test_the_rate_limit_holds_across_two_gateways_sharing_the_store(
    gateway_settings: GatewaySettings, keys: MongoKeyStore
) -> None:
    _, retry_after = window_of(utc_now())
    if retry_after < 10:  # do not straddle a window boundary
        await asyncio.sleep(retry_after)
    limited = gateway_settings.model_copy(update={"rate_limit_per_minute": 3, "run_projection": False})
    _, token = await keys.create("acme")
    async with (
        running_gateway(limited) as one,
        running_gateway(limited) as two,
        httpx.AsyncClient(headers=bearer(token), timeout=30) as client,
    ):
        codes = [(await client.get(f"{url}/tasks")).status_code for url in (one, two, one, two)]
        refused = await client.get(f"{one}/tasks")
    assert codes == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "rate limit" in refused.json()["detail"]


async def test_health_and_readiness(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/healthz", headers={})).json() == {"status": "ok"}
    ready = await gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"mongodb": True, "kafka": True}}
    assert (await gateway.get("/openapi.json")).json()["info"]["title"] == "Troupe gateway"


async def _status(gateway: httpx.AsyncClient, task_id: str) -> str | None:
    answer = await gateway.get(f"/tasks/{task_id}")
    return answer.json()["status"] if answer.status_code == 200 else None
