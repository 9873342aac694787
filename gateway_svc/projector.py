"""The projection consumer: every event on every topic -> the task's state and log in the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from gateway_svc.projection import ProjectedEvent, fold, log_entry, read_event, trace_id_from
from gateway_svc.projection_store import TaskWriter
from gateway_svc.task_state import TaskState
from schemas import utc_now
from troupe.logs import get_logger
from troupe.service import group_name
from troupe.settings import Settings

__all__ = ["Projector", "WriteConflict", "subscribe_projector"]

_log = get_logger(__name__)


class WriteConflict(RuntimeError):
    """The task's events kept changing while it was being recomputed; the message is read again later."""


class Projector:
    """Keep the event, recompute the task from all of its events, store it, and check that no event came
    in meanwhile (else recompute).

    Not a compare-and-set on the task: FerretDB's SQLite backend makes no single update atomic (concurrent
    `$inc`s or conditional replaces on one document lose writes). Inserting an event by its id is safe
    everywhere, and a writer that checks after writing converges: the last write is always followed by a
    check that saw every event it folded, so two replicas projecting one task never lose an event.
    """

    def __init__(
        self, store: TaskWriter, clock: Callable[[], datetime] = utc_now, attempts: int = 20
    ) -> None:
        self._store = store
        self._clock = clock
        self._attempts = attempts

    async def apply(self, event: ProjectedEvent, trace_id: str | None = None) -> TaskState | None:
        """Project one event; returns the new state, or None when it changed nothing (a duplicate)."""
        if event.task_id is None:
            return None
        current = await self._store.load(event.task_id)
        if current is not None and event.event_id in current.applied_events:
            return None
        await self._store.add_event(event, trace_id)
        entry = log_entry(event)
        if entry is not None:
            await self._store.add_log(entry)
        for _ in range(self._attempts):
            events = await self._store.events(event.task_id)
            state = fold(events, now=self._clock())
            if state is None:
                return None
            await self._store.put(state)
            if await self._store.count_events(event.task_id) == len(events):
                return state
        raise WriteConflict(f"task {event.task_id}: its events kept changing over {self._attempts} attempts")


def subscribe_projector(broker: KafkaBroker, settings: Settings, projector: Projector) -> None:
    """One consumer group over every topic, from the earliest offset, so a new deployment rebuilds every
    task. Errors (MongoDB away) nack the message so it is read again instead of lost."""

    @broker.subscriber(
        *settings.topics.all(),
        group_id=group_name(settings, "projection"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    async def project_event(message: KafkaMessage) -> None:
        event = read_event(message.body)
        if event is None:
            # Not ours to dead-letter: the consumer this message was meant for does that.
            _log.info("projection skipped an unreadable message", message_id=message.message_id)
            return
        trace_id = trace_id_from(message.headers.get("traceparent"))
        with structlog.contextvars.bound_contextvars(task_id=event.task_id, task_trace_id=trace_id):
            await projector.apply(event, trace_id)
