"""Through the real broker, with several consumers per subscriber: a nacked message really is read again, and
the ones after it on its partition wait for it."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect

from schemas import TaskRequest, TaskSubmitted, encode_event
from troupe import consuming
from troupe.consuming import EventConsumers, subscribe_events
from troupe.dead_letters import RecordingDeadLetters
from troupe.kafka import ensure_topics, make_broker
from troupe.settings import Settings


async def test_an_outage_outlasting_the_attempts_is_retried_in_order_without_dead_letters(
    settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consuming, "_backoff_s", lambda attempt: 0.05)
    topic = f"it.{unique}.retries"
    await ensure_topics(settings, [topic], partitions=2)
    first, second = (
        TaskSubmitted(task_id="t-1", event_id=f"e{i}", request=TaskRequest(description=str(i)))
        for i in (1, 2)
    )
    outage = settings.handler_max_attempts + 3
    deliveries: list[str] = []
    handled: list[str] = []
    both = asyncio.Event()

    async def handler(event: TaskSubmitted) -> None:
        deliveries.append(event.event_id)
        if deliveries.count("e1") <= outage:
            raise AutoReconnect("connection refused")
        handled.append(event.event_id)
        if len(handled) == 2:
            both.set()

    letters = RecordingDeadLetters()
    fast = settings.model_copy(update={"kafka_fetch_max_wait_ms": 50})
    consumers = EventConsumers(fast, letters)
    subscribe_events(consumers, topic, group=f"g-{unique}", handler=handler, expected=(TaskSubmitted,))
    broker = make_broker(fast)
    async with broker:
        await broker.start()
        await consumers.start()
        try:
            for event in (first, second):
                await broker.publish(encode_event(event), topic, key=b"t-1")
            async with asyncio.timeout(60):
                await both.wait()
        finally:
            await consumers.stop()

    assert handled == ["e1", "e2"]
    assert deliveries.count("e1") == outage + 1
    assert deliveries.index("e2") > outage  # the partition waited for e1
    assert letters.letters == []
