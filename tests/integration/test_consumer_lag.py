"""Consumer lag read from the real broker: high watermark minus the group's committed offset, per topic."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from troupe.consumer_lag import consumer_lag
from troupe.kafka import ensure_topics
from troupe.settings import Settings


async def test_lag_counts_what_the_group_has_not_committed(settings: Settings, unique: str) -> None:
    topic, group, servers = f"it.{unique}.lag", f"it.{unique}.group", settings.kafka_bootstrap_servers
    await ensure_topics(settings, [topic], partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=servers)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, b"x", partition=i % 2)  # 3 on partition 0, 2 on 1
    finally:
        await producer.stop()
    committer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): 2})  # one left on 0, and 1 never committed
    finally:
        await committer.stop()

    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    offsets = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await admin.start()
    await offsets.start()
    try:
        assert await consumer_lag(admin, offsets, group, [topic]) == {topic: 1 + 2}
    finally:
        await offsets.stop()
        await admin.close()
