"""Subscribing a handler to a topic with Troupe's delivery rules.

- The raw bytes are decoded with the schemas codec, so a refusal names its reason; an event larger than
  `max_event_bytes` is refused before it is parsed.
- A payload that is not a valid event for this topic, or not keyed by its task id, is dead-lettered and
  committed: it never blocks the partition.
- A handler that raises is retried (the offset is not committed, so Kafka redelivers it) with a growing
  pause. A transient infrastructure error (`troupe.errors`: Kafka or MongoDB unreachable) is retried for as
  long as it lasts, the pause capped at 5 s: the partition waits, in order, for the outage to end. Any other
  error is dead-lettered after `handler_max_attempts`, so the partition moves on.
- The offset is committed only after the handler returns, i.e. after its output was published.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy

from schemas import Envelope, InvalidEvent, decode_event
from troupe.dead_letters import DeadLetterSink, RefusedMessage
from troupe.errors import brief, is_transient
from troupe.event_limits import check_event_size
from troupe.logs import get_logger
from troupe.metrics import record_stage
from troupe.settings import Settings
from troupe.telemetry import current_trace_id

__all__ = ["Handler", "read_event", "subscribe_events"]

E = TypeVar("E", bound=Envelope)
Handler = Callable[[E], Awaitable[None]]
log = get_logger(__name__)


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


async def _body_as_is(message: StreamMessage[Any]) -> bytes:
    """The body undecoded: `read_event` decodes it with the schemas codec, so FastStream need not parse the
    JSON a first time."""
    return message.body


def _backoff_s(attempt: int) -> float:
    return float(min(0.2 * 2 ** (attempt - 1), 5.0))


def subscribe_events(
    broker: KafkaBroker,
    settings: Settings,
    topic: str,
    *,
    group: str,
    handler: Callable[[E], Awaitable[None]],
    expected: tuple[type[E], ...],
    dead_letters: DeadLetterSink,
) -> None:
    attempts: dict[tuple[int, int], int] = {}  # failures that count towards the dead letter
    waits: dict[tuple[int, int], int] = {}  # transient failures: they only lengthen the pause

    @broker.subscriber(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        max_workers=settings.kafka_consumer_workers,
        decoder=_body_as_is,
    )
    async def consume() -> None:
        # The message comes from FastStream's context rather than as an injected `KafkaMessage` parameter:
        # fast_depends resolves injected context in a worker thread, one thread hop per message (about 5% of
        # a worker's CPU under load, by py-spy --gil).
        message = broker.context.get_local("message")
        record: Any = message.raw_message  # one ConsumerRecord: these subscribers are not batching
        refused = RefusedMessage(
            record.topic, record.partition, record.offset, record.key, record.value or b""
        )
        try:
            event = read_event(refused, expected, settings.max_event_bytes)
        except InvalidEvent as exc:
            log.warning("event.refused", topic=topic, offset=record.offset, reason=exc.reason)
            await dead_letters.send(refused, exc.reason)
            return
        where = (record.partition, record.offset)
        started = time.monotonic()
        try:
            # Every log line the handler writes names its task and trace (the telemetry middleware has
            # already opened this message's span from its traceparent header).
            with structlog.contextvars.bound_contextvars(
                task_id=event.task_id, trace_id=current_trace_id(), event_type=event.type
            ):
                await handler(event)
        except Exception as exc:
            record_stage(event.type, "error", time.monotonic() - started)
            if is_transient(exc):
                # Kafka or MongoDB is away: every message would fail alike, so none is dead-lettered.
                # NACK_ON_ERROR seeks the partition back to this offset, so it is read again after the pause.
                wait = waits[where] = waits.get(where, 0) + 1
                log.warning("event.retry_transient", task_id=event.task_id, attempt=wait, error=brief(exc))
                await asyncio.sleep(_backoff_s(wait))
                raise
            attempt = attempts.get(where, 0) + 1
            if attempt >= settings.handler_max_attempts:
                reason = f"handler failed {attempt} times, last with {type(exc).__name__}: {exc}"
                log.error("event.dead_lettered", task_id=event.task_id, reason=reason)
                # While Kafka is away this raises: the message is read again and this branch retried.
                await dead_letters.send(refused, reason)
                attempts.pop(where, None)
                waits.pop(where, None)
                return
            attempts[where] = attempt
            log.warning("event.retry", task_id=event.task_id, attempt=attempt, error=repr(exc))
            await asyncio.sleep(_backoff_s(attempt))
            raise
        attempts.pop(where, None)
        waits.pop(where, None)
        record_stage(event.type, "ok", time.monotonic() - started)
