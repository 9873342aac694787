"""Kafka broker factory: every service publishes with the same durability settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from troupe.settings import Settings

__all__ = ["ensure_topics", "make_broker"]


def make_broker(settings: Settings, middlewares: Sequence[Any] = ()) -> KafkaBroker:
    """A broker that publishes with acks=all and idempotence, so a retried send is never written twice.

    Its telemetry middleware opens a span per publish and consume and carries the trace context in the
    `traceparent` header, which is what joins a task's work across services into one trace.
    """
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        middlewares=(KafkaTelemetryMiddleware(), *middlewares),
        logger=logging.getLogger(f"troupe.{settings.service_name}.kafka"),
    )


async def ensure_topics(settings: Settings, topics: Sequence[str], partitions: int = 3) -> list[str]:
    """Create the topics that do not exist yet; returns the ones it created.

    Services call this at start so that a fresh cluster with auto-creation disabled still works, and so the
    partition count is ours rather than the broker default.
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
            new = [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in missing]
            response = await admin.create_topics(new)
            # Another replica may create the same topic at the same moment; that is success too.
            failures = [
                f"{topic}: {message or code}"
                for topic, code, message, *_ in response.topic_errors
                if code not in (0, TopicAlreadyExistsError.errno)
            ]
            if failures:
                raise RuntimeError(f"could not create Kafka topics: {'; '.join(failures)}")
        return missing
    finally:
        await admin.close()
