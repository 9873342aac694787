"""The parts every worker service is built from, and the FastStream app that runs them.

Nothing connects when these are created: Kafka connects when the app starts, MongoDB on first use.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial

from faststream import FastStream
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from troupe.consumer_lag import ConsumerLagSampler
from troupe.consuming import EventConsumers
from troupe.db import Document, make_client, make_database
from troupe.dead_letters import KafkaDeadLetters
from troupe.kafka import ensure_topics, make_broker
from troupe.ledger import MongoLedger
from troupe.logs import configure_logging, get_logger
from troupe.outages import when_reachable
from troupe.publishing import KafkaEventPublisher
from troupe.redaction import redact
from troupe.settings import Settings
from troupe.telemetry import configure_telemetry

__all__ = ["Runtime", "create_runtime", "create_worker_app", "group_name", "prepare_servers"]

log = get_logger(__name__)


def group_name(settings: Settings, role: str) -> str:
    """Consumer groups live under the topic prefix, so two deployments on one cluster never share one."""
    return f"{settings.topic_prefix}.{role}"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    database: AsyncDatabase[Document]
    ledger: MongoLedger
    publisher: KafkaEventPublisher
    dead_letters: KafkaDeadLetters
    consumers: EventConsumers


def create_runtime(settings: Settings) -> Runtime:
    broker = make_broker(settings)
    mongo = make_client(settings)
    database = make_database(mongo, settings)
    dead_letters = KafkaDeadLetters(broker, settings.topics.dead_letter, settings.service_name)
    return Runtime(
        settings=settings,
        broker=broker,
        mongo=mongo,
        database=database,
        ledger=MongoLedger(database),
        publisher=KafkaEventPublisher(broker, settings.topics),
        dead_letters=dead_letters,
        consumers=EventConsumers(settings, dead_letters),
    )


async def prepare_servers(settings: Settings, steps: Mapping[str, Callable[[], Awaitable[object]]]) -> None:
    """Create the topics, then run each of `steps` (keyed by what it does, for the log if it must wait),
    waiting up to `TROUPE_START_TIMEOUT_S` for an unreachable Kafka or MongoDB (`troupe.outages`)."""
    create_topics = partial(
        ensure_topics, settings, settings.topics.all(), partitions=settings.kafka_partitions
    )
    every: dict[str, Callable[[], Awaitable[object]]] = {"Kafka: creating the topics": create_topics, **steps}
    for what, step in every.items():
        await when_reachable(what, step, within_s=settings.start_timeout_s, logged_as="startup.waiting")


def create_worker_app(
    runtime: Runtime, on_startup: Mapping[str, Callable[[], Awaitable[object]]] | None = None
) -> FastStream:
    settings = runtime.settings
    lag: list[ConsumerLagSampler] = []

    async def prepare() -> None:
        configure_logging(settings.log_level, settings.log_json)
        configure_telemetry(settings)
        await prepare_servers(settings, on_startup or {})
        log.info(
            "service.starting", service=settings.service_name, kafka=redact(settings.kafka_bootstrap_servers)
        )

    async def consume() -> None:
        # After the broker started: handlers publish through it.
        await runtime.consumers.start()
        lag.append(ConsumerLagSampler(settings, list(runtime.consumers.groups().items())))
        await lag[0].start()

    async def stop_consuming() -> None:
        # Before the broker closes: work finishing within the grace still publishes its output.
        await runtime.consumers.stop()

    async def close() -> None:
        for sampler in lag:
            await sampler.stop()
        await runtime.mongo.close()

    return FastStream(
        runtime.broker,
        on_startup=[prepare],
        after_startup=[consume],
        on_shutdown=[stop_consuming],
        after_shutdown=[close],
    )
