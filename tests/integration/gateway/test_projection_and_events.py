"""The projection and the live stream against real Kafka and FerretDB, for tasks published straight to Kafka."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.settings import GatewaySettings
from schemas import Finding, FindingStatus, ReviewCompleted
from tests.unit.gateway.events import dead_letter, happy_path
from troupe.db import Document

from .conftest import bearer, eventually, projection_caught_up, publish

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _pipeline(task_id: str) -> list[Any]:
    """The unit tests' event builders: one approved iteration with two steps."""
    return happy_path(task_id, tenant="default")


async def _task(gateway: httpx.AsyncClient, task_id: str) -> dict[str, Any] | None:
    answer = await gateway.get(f"/tasks/{task_id}")
    return answer.json() if answer.status_code == 200 else None


async def test_the_projection_builds_a_task_published_straight_to_kafka(
    gateway: httpx.AsyncClient,
    broker: KafkaBroker,
    gateway_settings: GatewaySettings,
    database: AsyncDatabase[Document],
    unique: str,
) -> None:
    task_id = f"direct-{unique}"
    traceparent = f"00-{TRACE}-00f067aa0ba902b7-01"
    await publish(broker, gateway_settings, *_pipeline(task_id), headers={"traceparent": traceparent})

    async def finished() -> dict[str, Any] | None:
        task = await _task(gateway, task_id)
        return task if task and task["status"] == "succeeded" else None

    await eventually(finished, "the task never reached succeeded")
    # The end may be projected before events from other topics: wait until every event is in.
    await eventually(lambda: _revision(database, task_id, 9), "not every event was projected")
    task = await _task(gateway, task_id)
    assert task is not None
    assert task["description"] == "evaluate 2**10"
    assert task["progress"] == 1.0
    assert task["result"] == 1024
    assert task["review"]["verdict"] == "approved"
    assert [s["status"] for s in task["steps"]] == ["succeeded", "succeeded"]
    assert task["usage"]["llm_calls"] == 3
    assert task["trace_id"] == TRACE

    logs = (await gateway.get(f"/tasks/{task_id}/logs", params={"limit": 5})).json()
    assert len(logs["items"]) == 5
    rest = (await gateway.get(f"/tasks/{task_id}/logs", params={"cursor": logs["next_cursor"]})).json()
    types = [e["type"] for e in logs["items"] + rest["items"]]
    assert types[0] == "task.submitted" and types[-1] == "task.finished" and len(types) == 9


async def test_replayed_events_change_nothing(
    gateway: httpx.AsyncClient,
    broker: KafkaBroker,
    gateway_settings: GatewaySettings,
    database: AsyncDatabase[Document],
    unique: str,
) -> None:
    task_id = f"replay-{unique}"
    events = _pipeline(task_id)
    await publish(broker, gateway_settings, *events)
    await eventually(lambda: _revision(database, task_id, len(events)), "not every event was projected")
    first = await _task(gateway, task_id)
    await publish(broker, gateway_settings, *events)
    await eventually(
        lambda: projection_caught_up(gateway_settings), "the projection never read the replay", every=0.2
    )
    again = await _task(gateway, task_id)
    assert again == first
    logs = (await gateway.get(f"/tasks/{task_id}/logs")).json()["items"]
    assert len(logs) == len(events)


async def test_a_reviews_findings_and_citations_are_stored_and_shown_in_the_task(
    gateway: httpx.AsyncClient,
    broker: KafkaBroker,
    gateway_settings: GatewaySettings,
    database: AsyncDatabase[Document],
    unique: str,
) -> None:
    task_id = f"findings-{unique}"
    finding = Finding(
        id="a:finite",
        step_id="a",
        tool="math",
        check="finite",
        status=FindingStatus.OK,
        detail="the value 1024 is finite",
        evidence={"value": 1024},
    )
    events = [
        e.model_copy(update={"findings": [finding], "citations": ["a:finite"]})
        if isinstance(e, ReviewCompleted)
        else e
        for e in _pipeline(task_id)
    ]
    await publish(broker, gateway_settings, *events)
    await eventually(lambda: _revision(database, task_id, len(events)), "not every event was projected")
    task = await _task(gateway, task_id)
    assert task is not None
    assert task["review"]["findings"] == [finding.model_dump(mode="json")]
    assert (task["review"]["citations"], task["review"]["overruled"]) == (["a:finite"], None)


async def test_a_dead_letter_rejects_its_task_with_the_reason(
    gateway: httpx.AsyncClient, broker: KafkaBroker, gateway_settings: GatewaySettings, unique: str
) -> None:
    task_id = f"refused-{unique}"
    await publish(broker, gateway_settings, _pipeline(task_id)[0], dead_letter(task_id, tenant=None))

    async def rejected() -> dict[str, Any] | None:
        task = await _task(gateway, task_id)
        return task if task and task["status"] == "rejected" else None

    task = await eventually(rejected, "the task was never rejected")
    assert "plan: Field required" in task["error"]


async def test_events_stream_live_until_the_task_finishes(
    gateway: httpx.AsyncClient, broker: KafkaBroker, gateway_settings: GatewaySettings, unique: str
) -> None:
    task_id = f"live-{unique}"
    events = _pipeline(task_id)
    await publish(broker, gateway_settings, events[0])
    await eventually(lambda: _task(gateway, task_id), "the task was never projected")

    received: list[tuple[str, dict[str, Any]]] = []

    async def listen() -> None:
        async with gateway.stream("GET", f"/tasks/{task_id}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    received.append((name, json.loads(line.removeprefix("data: "))))

    listening = asyncio.create_task(listen())
    await eventually(lambda: _async(bool(received)), "no snapshot came")
    await publish(broker, gateway_settings, *events[1:])
    async with asyncio.timeout(20):
        await listening
    names = [name for name, _ in received]
    assert names[0] == "snapshot" and received[0][1]["status"] == "submitted"
    # Events of different topics may be read in another order than published; the end ends the stream.
    assert names[-1] == "task.finished" and received[-1][1]["status"] == "succeeded"
    assert set(names[1:]) <= {e.type for e in events[1:]}


async def test_streaming_an_unknown_or_foreign_task_is_404(gateway: httpx.AsyncClient) -> None:
    async with asyncio.timeout(15):
        answer = await gateway.get("/tasks/nobody/events", headers=bearer("trp_unknown"))
        assert answer.status_code == 401
        answer = await gateway.get("/tasks/nobody/events")
        assert answer.status_code == 404


async def _revision(database: AsyncDatabase[Document], task_id: str, revision: int) -> bool:
    """Whether the stored task has taken `revision` writes: one per distinct event."""
    doc = await database["tasks"].find_one({"_id": task_id}, {"revision": 1})
    return doc is not None and doc["revision"] == revision


async def _async(value: bool) -> bool:
    return value


async def test_a_stream_opened_before_the_task_is_known_waits_for_its_first_event(
    gateway: httpx.AsyncClient, broker: KafkaBroker, gateway_settings: GatewaySettings, unique: str
) -> None:
    task_id = f"early-{unique}"
    events = _pipeline(task_id)

    async def listen() -> list[str]:
        names = []
        async with gateway.stream("GET", f"/tasks/{task_id}/events") as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    names.append(line.removeprefix("event: "))
        return names

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.2)  # the stream is waiting (up to sse_first_event_wait_s) for the task
    await publish(broker, gateway_settings, *events)
    async with asyncio.timeout(20):
        names = await listening
    # Usually the first event itself opens the stream; if the projection was quicker, a snapshot does.
    assert names[0] in {"snapshot"} | {e.type for e in events}
    assert names[-1] == "task.finished"
    assert len(names) >= 2
