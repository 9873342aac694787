"""Both ways in, opened on a deployment: every even-numbered task through the gateway, every odd one
straight onto Kafka, and the event log that watches every topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaProducer

from tests.e2e.event_log import EventLog, event_log
from tests.e2e.test_pipeline_over_kafka import DEMO
from tests.faults.deployment import Deployment
from tests.faults.submitting import Accepted, tenant_key, through_gateway, through_kafka

__all__ = ["Doors", "doors"]


@dataclass
class Doors:
    http: httpx.AsyncClient
    producer: AIOKafkaProducer
    target: Deployment
    events: EventLog
    accepted: Accepted

    async def submit(self, index: int) -> None:
        # The scripted LLM plans, revises once and approves this task: six stages, two of each worker.
        if index % 2 == 0:
            await through_gateway(self.http, DEMO, self.accepted)
        else:
            await through_kafka(self.producer, self.target.settings.topics, DEMO, self.accepted)


@asynccontextmanager
async def doors(target: Deployment) -> AsyncIterator[Doors]:
    settings = target.settings
    token = await tenant_key(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        async with (
            event_log(settings.kafka_bootstrap_servers, settings.topics) as events,
            httpx.AsyncClient(
                base_url=target.gateway_url, headers={"Authorization": f"Bearer {token}"}
            ) as http,
        ):
            yield Doors(http, producer, target, events, Accepted())
    finally:
        await producer.stop()
