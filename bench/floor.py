"""The Kafka floor: a message relayed over as many Kafka hops as a task takes, by plain aiokafka clients.

A task's critical path is one hop per stage hand-over:
  one iteration:  tasks.submitted -> plans.created -> executions.completed -> tasks.finished      (4 hops)
  one revision:   ... -> reviews.completed (revise) -> plans.created -> executions.completed -> tasks.finished
                                                                                                   (7 hops)
Each relay consumes one topic and produces to the next with the services' settings (acks=all without idempotence,
the same fetch_max_wait_ms, the same partition count, keyed by task id); nothing else happens per hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

HOPS_ONE_ITERATION = 4
HOPS_ONE_REVISION = 7


class RelayChain:
    def __init__(
        self, bootstrap: str, prefix: str, hops: int, partitions: int, fetch_max_wait_ms: int
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = [f"{prefix}.floor{hops}.hop{i}" for i in range(1, hops + 1)]
        self.partitions = partitions
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._group = f"{prefix}.floor{hops}.{uuid.uuid4().hex[:6]}"
        self._producers: list[AIOKafkaProducer] = []
        self._consumers: list[AIOKafkaConsumer] = []
        self._relays: list[asyncio.Task[None]] = []
        self._arrived: dict[bytes, asyncio.Future[float]] = {}

    def _producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")

    def _consumer(self, topic: str, role: str) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=f"{self._group}.{role}",
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )

    async def start(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in self.topics if t not in existing]
            if missing:
                await admin.create_topics(
                    [NewTopic(name=t, num_partitions=self.partitions, replication_factor=1) for t in missing]
                )
        finally:
            await admin.close()
        # Relay i reads hop i and writes hop i+1, like a service between two stages; the last hop is read by
        # the waiting client, like the task's submitter hearing task.finished.
        for i, (source, target) in enumerate(zip(self.topics, self.topics[1:], strict=False)):
            consumer, producer = self._consumer(source, f"relay{i}"), self._producer()
            await consumer.start()
            await producer.start()
            self._consumers.append(consumer)
            self._producers.append(producer)
            self._relays.append(asyncio.create_task(self._relay(consumer, producer, target)))
        sink = self._consumer(self.topics[-1], "sink")
        await sink.start()
        self._consumers.append(sink)
        self._relays.append(asyncio.create_task(self._sink(sink)))
        source = self._producer()
        await source.start()
        self._producers.append(source)

    async def _relay(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, target: str) -> None:
        async for record in consumer:
            await producer.send_and_wait(target, record.value, key=record.key)
            await consumer.commit()

    async def _sink(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            future = self._arrived.pop(record.key or b"", None)
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    async def once(self) -> float:
        """Seconds from producing on the first hop until the message is consumed off the last."""
        key = uuid.uuid4().hex.encode()
        arrived: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._arrived[key] = arrived
        started = time.perf_counter()
        await self._producers[-1].send_and_wait(self.topics[0], b'{"bench": "floor"}', key=key)
        return await asyncio.wait_for(arrived, timeout=30) - started

    async def stop(self) -> None:
        for relay in self._relays:
            relay.cancel()
        for relay in self._relays:
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        for consumer in self._consumers:
            await consumer.stop()
        for producer in self._producers:
            await producer.stop()


@asynccontextmanager
async def relay_chain(
    bootstrap: str, prefix: str, hops: int, partitions: int, fetch_max_wait_ms: int
) -> AsyncIterator[RelayChain]:
    chain = RelayChain(bootstrap, prefix, hops, partitions, fetch_max_wait_ms)
    await chain.start()
    try:
        yield chain
    finally:
        await chain.stop()


async def floor_latencies(chain: RelayChain, count: int, budget_s: float) -> list[float]:
    samples: list[float] = []
    stop_at = time.monotonic() + budget_s
    for _ in range(count):
        if time.monotonic() > stop_at:
            break
        samples.append(await chain.once())
    return samples
