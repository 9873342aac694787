"""A real gateway (uvicorn, lifespan, Kafka, FerretDB) per test, on its own topics and database."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.app import create_app
from gateway_svc.auth import MongoKeyStore
from gateway_svc.settings import GatewaySettings
from schemas import EventModel
from troupe.db import Document
from troupe.kafka import ensure_topics, make_broker
from troupe.service import group_name
from troupe.settings import Settings

ADMIN_TOKEN = "admin-token-for-tests"


@pytest.fixture
def gateway_settings(settings: Settings, unique: str) -> GatewaySettings:
    return GatewaySettings(
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        mongodb_uri=settings.mongodb_uri,
        mongodb_database=f"test_{unique}",
        topic_prefix=f"t{unique}",
        service_name="gateway-tests",
        admin_api_key=SecretStr(ADMIN_TOKEN),
        kafka_partitions=2,
        sse_keepalive_s=1.0,
        sse_first_event_wait_s=3.0,
    )


@asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """A gateway served by uvicorn on a free port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", ws="none", lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if serving.done():
                    raise RuntimeError("the gateway did not start")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await serving  # raises SystemExit if the gateway failed to start
        finally:
            sock.close()


@pytest.fixture
async def gateway(
    gateway_settings: GatewaySettings, database: AsyncDatabase[Document]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running gateway, authenticated with the admin key (tenant `default`)."""
    del database  # only for its clean-up: the gateway's database is the test's database
    async with (
        running_gateway(gateway_settings) as url,
        httpx.AsyncClient(base_url=url, headers=bearer(ADMIN_TOKEN), timeout=30) as client,
    ):
        yield client


@pytest.fixture
async def keys(database: AsyncDatabase[Document]) -> MongoKeyStore:
    return MongoKeyStore(database)


@pytest.fixture
async def broker(gateway_settings: GatewaySettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(gateway_settings, gateway_settings.topics.all(), partitions=2)
    async with make_broker(gateway_settings) as started:
        await started.start()
        yield started


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def publish(
    broker: KafkaBroker, settings: Settings, *events: EventModel, headers: dict[str, str] | None = None
) -> None:
    for event in events:
        key = getattr(event, "task_id", None)
        await broker.publish(
            event.model_dump_json().encode(),
            settings.topics.for_event(event),
            key=key.encode() if key else None,
            headers=headers,
        )


async def eventually(
    check: Callable[[], Awaitable[Any]], what: str, within_s: float = 20.0, every: float = 0.05
) -> Any:
    """Polls `check` until it returns something truthy."""
    async with asyncio.timeout(within_s):
        while True:
            result = await check()
            if result:
                return result
            await asyncio.sleep(every)
    raise AssertionError(what)  # pragma: no cover


async def topic_records(settings: Settings, topic: str) -> list[Any]:
    """Every record on a topic now, read from the beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    consumer.subscribe([topic])
    await consumer.start()
    try:
        async with asyncio.timeout(20):
            while not consumer.assignment():  # noqa: ASYNC110 (no event for a group-less assignment)
                await asyncio.sleep(0.02)
            partitions = sorted(consumer.assignment())
            ends = await consumer.end_offsets(partitions)
            records: list[Any] = []
            while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
                batch = await consumer.getmany(timeout_ms=200)
                records += [r for rs in batch.values() for r in rs]
        return records
    finally:
        await consumer.stop()


async def projection_caught_up(settings: GatewaySettings) -> bool:
    """Whether the projection's consumer group has committed every message now on its topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group_name(settings, "projection"))
        ends = await consumer.end_offsets(list(committed))
        written = {tp: end for tp, end in ends.items() if end > 0}
        return bool(written) and all(committed[tp].offset >= end for tp, end in written.items())
    finally:
        await consumer.stop()
        await admin.close()
