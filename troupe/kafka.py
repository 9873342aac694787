"""Kafka broker factory: every service publishes with the same durability settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from troupe.settings import Settings

__all__ = ["delete_topics", "ensure_topics", "list_topics", "make_broker", "topic_max_message_bytes"]

log = logging.getLogger(__name__)
_MAX_MESSAGE_BYTES = "max.message.bytes"
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself
_DESCRIBE_ATTEMPTS = 25


def make_broker(settings: Settings, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """A broker that publishes with acks=all, so an acknowledged event is on every in-sync replica.

    Not with idempotence: aiokafka's idempotent producer numbers a batch when it sends it, and a batch that then
    fails (the broker restarting) leaves a gap that the broker refuses for good with OutOfOrderSequenceNumber;
    aiokafka does not reset its producer id as the Java client does (aio-libs/aiokafka#1017). That wedged the
    services after a 30 s broker outage (tests/faults/test_outages_under_load.py). A retried send may then be
    written twice, which every consumer already handles: events carry deterministic ids, the stage ledger and the
    projection keep one per id. Order within a partition still holds: aiokafka sends one batch per partition at
    a time, retries included.

    Its telemetry middleware opens a span per publish and consume and carries the trace context in the
    `traceparent` header, which is what joins a task's work across services into one trace.
    """
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=False,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        # Large enough for a dead letter that keeps the largest record the topics accept.
        max_request_size=settings.dead_letter_max_message_bytes,
        middlewares=(KafkaTelemetryMiddleware(), *middlewares),
        logger=logging.getLogger(f"troupe.{settings.service_name}.kafka"),
    )


def topic_max_message_bytes(settings: Settings, topic: str) -> int:
    """The largest record a topic accepts: the dead-letter topic needs room for a base64 copy of any other's."""
    if topic == settings.topics.dead_letter:
        return settings.dead_letter_max_message_bytes
    return settings.kafka_max_message_bytes


async def ensure_topics(settings: Settings, topics: Sequence[str], partitions: int = 3) -> list[str]:
    """Create the topics that do not exist yet, and raise `max.message.bytes` where an existing topic has less;
    returns the topics it created.

    Services call this at start so that a fresh cluster with auto-creation disabled still works, and so the
    partition count and record size are ours rather than the broker defaults (1 MiB would refuse an oversized
    event at produce time, where only its producer learns why).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"{settings.service_name}-admin",
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        if missing:
            new = [
                NewTopic(
                    name=t,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs={_MAX_MESSAGE_BYTES: str(topic_max_message_bytes(settings, t))},
                )
                for t in missing
            ]
            response = await admin.create_topics(new)
            # Another replica may create the same topic at the same moment; that is success too.
            failures = [
                f"{topic}: {message or code}"
                for topic, code, message, *_ in response.topic_errors
                if code not in (0, TopicAlreadyExistsError.errno)
            ]
            if failures:
                raise RuntimeError(f"could not create Kafka topics: {'; '.join(failures)}")
        await _raise_record_limits(admin, settings, [t for t in dict.fromkeys(topics) if t in existing])
        return missing
    finally:
        await admin.close()


async def list_topics(bootstrap_servers: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="troupe-cleanup")
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, matching: Callable[[str], bool]) -> list[str]:
    """Delete every topic whose name `matching` accepts, and return their names.

    For throwaway deployments (a benchmark's, a test session's) on a long-lived broker: each leaves a
    prefix of topics behind, and a broker holding thousands of partitions takes minutes of CPU to start
    and answers every metadata request with all of them.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="troupe-cleanup")
    await admin.start()
    try:
        doomed = sorted(t for t in await admin.list_topics() if matching(t))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def _raise_record_limits(admin: AIOKafkaAdminClient, settings: Settings, topics: Sequence[str]) -> None:
    """Topics made before the limit was set (or by someone else) get it, keeping their other settings.

    AlterConfigs replaces a topic's whole set of overrides (aiokafka has no incremental variant), so the
    overrides already on the topic are read first and sent back with ours; a topic whose settings cannot be
    read is left alone. A cluster that does not let us change topics only loses the larger limit (records over
    the broker's are refused when published), so that is a warning, not a failed start.
    """
    changes = []
    for topic in topics:
        entries = await _topic_config_entries(admin, topic)
        if entries is None:
            log.warning("could not read the settings of %s; max.message.bytes left as it is", topic)
            continue
        current = {e[0]: e[1] for e in entries}.get(_MAX_MESSAGE_BYTES)
        wanted = topic_max_message_bytes(settings, topic)
        if current is None or int(current) < wanted:
            overrides = {e[0]: e[1] for e in entries if e[3] == _DYNAMIC_TOPIC_CONFIG}
            changes.append(
                ConfigResource(ConfigResourceType.TOPIC, topic, overrides | {_MAX_MESSAGE_BYTES: str(wanted)})
            )
    if not changes:
        return
    responses = await admin.alter_configs(changes)
    failures = [
        f"{name}: {message or code}"
        for response in responses
        for code, message, _kind, name in response.resources
        if code != 0
    ]
    if failures:
        log.warning("could not raise max.message.bytes of Kafka topics: %s", "; ".join(failures))
    else:
        log.info("raised max.message.bytes of %s", ", ".join(c.name for c in changes))


async def _topic_config_entries(admin: AIOKafkaAdminClient, topic: str) -> list[Any] | None:
    """A topic's config entries (name, value, read-only, source, ...), or None if they cannot be read.

    A topic created a moment ago (by another replica) may not be describable yet: asked again briefly.
    """
    for _ in range(_DESCRIBE_ATTEMPTS):
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        code, _message, _kind, _name, entries = response.resources[0]
        if code == 0:
            return list(entries)
        if code != UnknownTopicOrPartitionError.errno:
            return None
        await asyncio.sleep(0.2)
    return None
