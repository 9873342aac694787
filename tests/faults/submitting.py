"""Submitting tasks the two ways users do, at a steady rate, and holding on until each one is accepted.

Through the gateway the client retries with the same Idempotency-Key while the gateway is down, as a careful
client would; a task counts as accepted at its 202. Straight onto Kafka it counts once the broker acked it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaProducer

from gateway_svc.auth import MongoKeyStore
from schemas import TaskRequest, TaskSubmitted, Topics, encode_event
from troupe.db import make_client
from troupe.settings import Settings

__all__ = ["Accepted", "at_steady_rate", "tenant_key", "through_gateway", "through_kafka"]


@dataclass
class Accepted:
    """Task ids the pipeline took responsibility for, with how many submissions needed a retry."""

    task_ids: list[str] = field(default_factory=list)
    by_door: dict[str, int] = field(default_factory=lambda: {"gateway": 0, "kafka": 0})
    retried: int = 0


Submit = Callable[[int], Coroutine[object, object, None]]


async def through_gateway(
    http: httpx.AsyncClient, description: str, accepted: Accepted, give_up_s: float = 180
) -> None:
    key = uuid.uuid4().hex
    deadline = time.monotonic() + give_up_s
    tries = 0
    while True:
        tries += 1
        try:
            answer = await http.post(
                "/tasks",
                json={"description": description},
                headers={"Idempotency-Key": key},
                timeout=15,
            )
            if answer.status_code == 202:
                accepted.task_ids.append(answer.json()["task_id"])
                accepted.by_door["gateway"] += 1
                accepted.retried += tries > 1
                return
            if answer.status_code < 500:  # a refusal is a bug of the run, not a fault to ride out
                raise AssertionError(f"POST /tasks answered {answer.status_code}: {answer.text}")
        except httpx.TransportError:
            pass  # the gateway is down or went down mid-request: try again with the same key
        if time.monotonic() > deadline:
            raise AssertionError(f"the gateway accepted no submission for {give_up_s} s")
        await asyncio.sleep(0.5)


async def through_kafka(
    producer: AIOKafkaProducer, topics: Topics, description: str, accepted: Accepted
) -> None:
    task_id = f"fault-{uuid.uuid4().hex[:12]}"
    event = TaskSubmitted(task_id=task_id, tenant="acme", request=TaskRequest(description=description))
    await producer.send_and_wait(topics.task_submitted, encode_event(event), key=task_id.encode())
    accepted.task_ids.append(task_id)
    accepted.by_door["kafka"] += 1


async def at_steady_rate(count: int, per_s: float, submit: Submit) -> None:
    """Start submission i at i / per_s seconds, whatever earlier ones are still waiting for."""
    started = time.monotonic()
    pending: list[asyncio.Task[None]] = []
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / per_s - time.monotonic()))
        pending.append(asyncio.create_task(submit(i)))
    await asyncio.gather(*pending)


async def tenant_key(settings: Settings, tenant: str = "acme") -> str:
    """A fresh API key of the tenant's, stored where the deployment's gateway looks keys up."""
    client = make_client(settings)
    try:
        _, token = await MongoKeyStore(client[settings.mongodb_database]).create(tenant)
    finally:
        await client.close()
    return token
