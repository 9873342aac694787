"""Produce and consume through the real broker: keys, headers, consumer groups and committed offsets."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
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


async def _topic_configs(settings: Settings, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        async with asyncio.timeout(30):
            while True:  # a topic created a moment ago is not describable at once
                [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
                if response.resources[0][0] == 0:
                    return {entry[0]: entry[1] for entry in response.resources[0][4]}
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def test_topics_are_created_to_carry_large_records_and_letters(settings: Settings, unique: str) -> None:
    deployment = settings.model_copy(update={"topic_prefix": f"it{unique}"})
    topics = deployment.topics
    await ensure_topics(deployment, [topics.plan_created, topics.dead_letter], partitions=1)
    plans = await _topic_configs(deployment, topics.plan_created)
    letters = await _topic_configs(deployment, topics.dead_letter)
    assert int(plans["max.message.bytes"]) == deployment.kafka_max_message_bytes == 8 * 1024 * 1024
    assert int(letters["max.message.bytes"]) == deployment.dead_letter_max_message_bytes


async def test_an_existing_topic_gets_the_larger_limit_and_keeps_its_other_settings(
    settings: Settings, unique: str
) -> None:
    topic = f"it.{unique}.older"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:  # as made before the limit existed, with an operator's own retention
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})])
    finally:
        await admin.close()
    assert (
        int((await _topic_configs(settings, topic))["max.message.bytes"]) < settings.kafka_max_message_bytes
    )

    assert await ensure_topics(settings, [topic]) == []
    configs = await _topic_configs(settings, topic)
    assert int(configs["max.message.bytes"]) == settings.kafka_max_message_bytes
    assert configs["retention.ms"] == "3600000"


async def test_a_five_megabyte_record_is_published_and_fetched_past_the_partition_fetch_size(
    settings: Settings, unique: str
) -> None:
    """aiokafka asks for 1 MiB per partition by default; the broker still hands over a larger first record
    (KIP-74), so a consumer gets it and can refuse it with a reason."""
    topic = f"it.{unique}.large"
    await ensure_topics(settings, [topic], partitions=1)
    large = b"x" * (5 * 1024 * 1024)
    broker = make_broker(settings)
    async with broker:
        await broker.start()
        await broker.publish(large, topic, key=b"k")
        await broker.publish(b"next", topic, key=b"k")
    consumer = _consumer(settings, topic, f"g-{unique}")
    await consumer.start()
    try:
        assert await _take(consumer, 2) == [large, b"next"]
    finally:
        await consumer.stop()


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
