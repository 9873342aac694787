"""Produce and consume through the real broker: keys, headers, consumer groups and committed offsets."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka.annotations import KafkaMessage

from schemas import TaskRequest, TaskSubmitted, decode_event, encode_event
from troupe.kafka import ensure_topics, make_broker
from troupe.settings import Settings


def _consumer(settings: Settings, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )


async def _take(consumer: AIOKafkaConsumer, count: int) -> list[bytes]:
    values: list[bytes] = []
    async with asyncio.timeout(30):
        while len(values) < count:
            batch = await consumer.getmany(timeout_ms=500)
            values += [record.value for records in batch.values() for record in records]
    return values


async def test_ensure_topics_creates_missing_topics_once(settings: Settings, unique: str) -> None:
    names = [f"it.{unique}.a", f"it.{unique}.b"]
    assert await ensure_topics(settings, names, partitions=2) == names
    assert await ensure_topics(settings, names, partitions=2) == []


async def test_keyed_message_with_headers_reaches_a_consumer_group(settings: Settings, unique: str) -> None:
    topic = f"it.{unique}.events"
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b"payload", key=b"task-1", headers=[("traceparent", b"00-abc-def-01")]
        )
    finally:
        await producer.stop()

    consumer = _consumer(settings, topic, f"g-{unique}")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
        assert (record.key, record.value) == (b"task-1", b"payload")
        assert ("traceparent", b"00-abc-def-01") in list(record.headers)
    finally:
        await consumer.stop()


async def test_committed_offsets_resume_the_group_after_the_last_commit(
    settings: Settings, unique: str
) -> None:
    topic, group = f"it.{unique}.commits", f"g-{unique}"
    await ensure_topics(settings, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=b"k")

        first = _consumer(settings, topic, group)
        await first.start()
        try:
            assert await _take(first, 3) == [b"m0", b"m1", b"m2"]
            await first.commit()
        finally:
            await first.stop()

        await producer.send_and_wait(topic, b"m3", key=b"k")
        second = _consumer(settings, topic, group)
        await second.start()
        try:
            assert await _take(second, 1) == [b"m3"]
            assert await second.committed(TopicPartition(topic, 0)) == 3
        finally:
            await second.stop()
    finally:
        await producer.stop()


async def test_troupe_broker_publishes_and_consumes_an_event(settings: Settings, unique: str) -> None:
    topic = f"it.{unique}.faststream"
    await ensure_topics(settings, [topic])
    broker = make_broker(settings)
    received: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()

    @broker.subscriber(topic, group_id=f"g-{unique}", auto_offset_reset="earliest", fetch_max_wait_ms=50)
    async def handle(message: KafkaMessage) -> None:
        # Raw bytes, not FastStream's JSON decoding: services decode with schemas' codec to name bad payloads.
        await received.put((message.body, dict(message.headers)))

    event = TaskSubmitted(task_id="t-42", request=TaskRequest(description="hello"))
    async with broker:
        await broker.start()
        await broker.publish(encode_event(event), topic, key=b"t-42", headers={"x-tenant": "default"})
        async with asyncio.timeout(30):
            body, headers = await received.get()
    assert decode_event(body) == event
    assert headers["x-tenant"] == "default"
