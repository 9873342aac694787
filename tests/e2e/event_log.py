"""Everything published on a deployment's topics, read back from Kafka and grouped by task."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer

from schemas import DeadLettered, Envelope, InvalidEvent, TaskFinished, Topics, decode_event
from tests.stopping import stop_within


class EventLog:
    def __init__(self) -> None:
        self.by_task: dict[str, list[Envelope]] = defaultdict(list)
        self.dead_letters: list[DeadLettered] = []
        self.changed = asyncio.Event()

    def add(self, topic: str, value: bytes) -> None:
        if topic.endswith(".dead-letter"):
            self.dead_letters.append(DeadLettered.model_validate_json(value))
        else:
            with contextlib.suppress(InvalidEvent):  # hostile inputs are what some tests publish
                event = decode_event(value)
                self.by_task[event.task_id].append(event)
        self.changed.set()

    def finished(self, task_id: str) -> list[TaskFinished]:
        return [e for e in self.by_task[task_id] if isinstance(e, TaskFinished)]

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float = 60) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def event_log(bootstrap: str, topics: Topics) -> AsyncIterator[EventLog]:
    log = EventLog()
    consumer = AIOKafkaConsumer(
        *topics.all(),
        bootstrap_servers=bootstrap,
        group_id=f"e2e-observer-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()

    async def pump() -> None:
        async for record in consumer:
            log.add(record.topic, record.value)

    task = asyncio.create_task(pump())
    try:
        yield log
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stop_within(consumer)
