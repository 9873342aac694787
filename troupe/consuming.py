"""Subscribing a handler to a topic with Troupe's delivery rules.

- The raw bytes are decoded with the schemas codec, so a refusal names its reason; an event larger than
  `max_event_bytes` is refused before it is parsed.
- A payload that is not a valid event for this topic, or not keyed by its task id, is dead-lettered and
  committed: it never blocks the partition.
- A handler that raises is retried in place, with a growing pause, while the other tasks' events on its
  partition keep flowing (`troupe.parallel_consumer` runs each key on its own). A transient infrastructure
  error (`troupe.errors`: Kafka or MongoDB unreachable) is retried for as long as it lasts, the pause capped
  at 5 s. Any other error is dead-lettered after `handler_max_attempts`.
- An event the pipeline's own records contradict (`troupe.boundary.EventRefused`) is dead-lettered at once.
- An event counts as finished, and its offset may be committed, only after the handler returned (its output
  published) or the event was dead-lettered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from schemas import Envelope, InvalidEvent, decode_event
from troupe.boundary import EventRefused
from troupe.dead_letters import DeadLetterSink, RefusedMessage
from troupe.errors import brief, is_transient
from troupe.event_limits import check_event_size
from troupe.logs import get_logger
from troupe.metrics import record_stage, watch_in_flight
from troupe.parallel_consumer import ParallelConsumer, Process
from troupe.settings import Settings
from troupe.telemetry import current_trace_id

__all__ = [
    "EventConsumers",
    "Handler",
    "Route",
    "deliver",
    "read_event",
    "subscribe_broadcast",
    "subscribe_events",
]

E = TypeVar("E", bound=Envelope)
Handler = Callable[[E], Awaitable[None]]
log = get_logger(__name__)
_tracer = trace.get_tracer("troupe.consuming")


def read_event(message: RefusedMessage, expected: tuple[type[E], ...], max_bytes: int) -> E:
    """The event in a message, or InvalidEvent saying why it cannot be accepted on this topic."""
    check_event_size(message.value, max_bytes)
    event = decode_event(message.value)
    if not isinstance(event, expected):
        names = ", ".join(cls.model_fields["type"].default for cls in expected)
        raise InvalidEvent(f"a {event.type} event does not belong on {message.topic} (expects {names})")
    if message.key != event.task_id.encode():
        raise InvalidEvent(
            f"message key {message.key!r} must be the event's task id {event.task_id!r}, "
            "so that a task's events share a partition"
        )
    return event


def _backoff_s(attempt: int) -> float:
    return float(min(0.2 * 2 ** (attempt - 1), 5.0))


@dataclass(frozen=True)
class Route:
    handler: Callable[[Envelope], Awaitable[None]]
    expected: tuple[type[Envelope], ...]


class EventConsumers:
    """A service's consumer groups: one `ParallelConsumer` each, started after the broker and stopped before it."""

    def __init__(self, settings: Settings, dead_letters: DeadLetterSink) -> None:
        self._settings = settings
        self._dead_letters = dead_letters
        self._routes: dict[str, dict[str, Route]] = {}
        self.running: list[ParallelConsumer] = []

    def subscribe(self, topic: str, group: str, route: Route) -> None:
        self._routes.setdefault(group, {})[topic] = route

    def groups(self) -> Mapping[str, tuple[str, ...]]:
        return {group: tuple(routes) for group, routes in self._routes.items()}

    async def start(self) -> None:
        for group, routes in self._routes.items():
            consumer = ParallelConsumer(
                lambda group=group: self._kafka_consumer(group),  # type: ignore[misc]
                {topic: self._process(route) for topic, route in routes.items()},
                limit=self._settings.kafka_max_in_flight,
                commit_interval_s=self._settings.kafka_commit_interval_ms / 1000,
                revoke_grace_s=self._settings.kafka_revoke_grace_s,
                fetch_wait_ms=self._settings.kafka_fetch_max_wait_ms,
                name=group,
            )
            await consumer.start()
            watch_in_flight(group, lambda consumer=consumer: consumer.in_flight)  # type: ignore[misc]
            self.running.append(consumer)

    async def stop(self) -> None:
        await asyncio.gather(*(consumer.stop() for consumer in self.running))
        self.running.clear()

    def _kafka_consumer(self, group: str) -> AIOKafkaConsumer:
        settings = self._settings
        return AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.service_name}-{group}",
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            max_partition_fetch_bytes=settings.kafka_max_message_bytes,
            fetch_max_bytes=max(settings.kafka_max_message_bytes, 50 * 1024 * 1024),
        )

    def _process(self, route: Route) -> Process:
        async def process(record: ConsumerRecord[bytes, bytes]) -> None:
            message = RefusedMessage(
                record.topic, record.partition, record.offset, record.key, record.value or b""
            )
            with _consume_span(record):
                await deliver(message, route, self._settings, self._dead_letters)

        return process


async def deliver(
    message: RefusedMessage, route: Route, settings: Settings, dead_letters: DeadLetterSink
) -> None:
    """Decode, handle with retries, or dead-letter: returns once the message is finished either way."""
    try:
        event = read_event(message, route.expected, settings.max_event_bytes)
    except InvalidEvent as exc:
        log.warning("event.refused", topic=message.topic, offset=message.offset, reason=exc.reason)
        await _dead_letter(dead_letters, message, exc.reason)
        return
    attempts = waits = 0
    # Every log line the handler writes names its task and trace.
    with structlog.contextvars.bound_contextvars(
        task_id=event.task_id, trace_id=current_trace_id(), event_type=event.type
    ):
        while True:
            started = time.monotonic()
            try:
                await route.handler(event)
            except EventRefused as exc:
                # The pipeline's records contradict the event (troupe.boundary): trying again cannot help.
                record_stage(event.type, "refused", time.monotonic() - started)
                await _dead_letter(dead_letters, message, exc.reason)
                return
            except Exception as exc:
                record_stage(event.type, "error", time.monotonic() - started)
                if is_transient(exc):
                    # Kafka or MongoDB is away: every event would fail alike, so none is dead-lettered.
                    waits += 1
                    log.warning("event.retry_transient", attempt=waits, error=brief(exc))
                    await asyncio.sleep(_backoff_s(waits))
                    continue
                attempts += 1
                if attempts >= settings.handler_max_attempts:
                    reason = f"handler failed {attempts} times, last with {type(exc).__name__}: {exc}"
                    log.error("event.dead_lettered", reason=reason)
                    await _dead_letter(dead_letters, message, reason)
                    return
                log.warning("event.retry", attempt=attempts, error=repr(exc))
                await asyncio.sleep(_backoff_s(attempts))
                continue
            record_stage(event.type, "ok", time.monotonic() - started)
            return


async def _dead_letter(dead_letters: DeadLetterSink, message: RefusedMessage, reason: str) -> None:
    """Send the letter, waiting out a Kafka outage: the message is finished only once its letter is written."""
    waits = 0
    while True:
        try:
            await dead_letters.send(message, reason)
            return
        except Exception as exc:
            if not is_transient(exc):
                # Nothing else can be done with it; holding it would stop the partition's commits for good.
                log.error("dead_letter.failed", topic=message.topic, offset=message.offset, error=brief(exc))
                return
            waits += 1
            log.warning("dead_letter.retry_transient", attempt=waits, error=brief(exc))
            await asyncio.sleep(_backoff_s(waits))


def _consume_span(record: ConsumerRecord[bytes, bytes]) -> AbstractContextManager[trace.Span]:
    """A consume span continuing the publisher's trace from the record's `traceparent` header."""
    carrier = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    return _tracer.start_as_current_span(
        f"{record.topic} process",
        context=propagate.extract(carrier),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
        },
    )


def subscribe_events(
    consumers: EventConsumers,
    topic: str,
    *,
    group: str,
    handler: Callable[[E], Awaitable[None]],
    expected: tuple[type[E], ...],
) -> None:
    consumers.subscribe(topic, group, Route(handler, expected))  # type: ignore[arg-type]


def subscribe_broadcast(
    broker: KafkaBroker,
    settings: Settings,
    topic: str,
    kind: type[E],
    handler: Callable[[E], Awaitable[None]],
) -> None:
    """Every replica hears every `kind` event on `topic` from now on (no consumer group, no commits). An
    unreadable event is skipped: the consumer group that owns the topic dead-letters it."""

    @broker.subscriber(
        topic,
        auto_offset_reset="latest",
        ack_policy=AckPolicy.ACK_FIRST,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    async def hear(message: KafkaMessage) -> None:
        try:
            check_event_size(message.body, settings.max_event_bytes)
            event = decode_event(message.body)
        except InvalidEvent:
            return
        if isinstance(event, kind):
            await handler(event)
