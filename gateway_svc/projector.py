"""The projection consumer: every event on every topic -> the task's state and log in the store."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from gateway_svc.projection import ProjectedEvent, TracedEvent, fold, log_entry, read_event, trace_id_from
from gateway_svc.projection_store import TaskWriter
from gateway_svc.task_state import LogEntry, TaskState
from schemas import utc_now
from troupe.errors import brief, is_transient
from troupe.logs import get_logger
from troupe.service import group_name
from troupe.settings import Settings

__all__ = ["Projector", "WriteConflict", "subscribe_projector"]

_log = get_logger(__name__)
_PAUSE_S = 1.0


class WriteConflict(RuntimeError):
    """The task's events kept changing while it was being recomputed; the message is read again later."""


class Projector:
    """Append the event to its task's event log, recompute the task from the whole log, store it, and check
    that nothing was appended meanwhile (else recompute).

    Not a compare-and-set on the task: FerretDB's SQLite backend makes no single update atomic (concurrent
    `$inc`s or conditional replaces on one document lose writes), and it answers only `_id` lookups without
    scanning a whole collection. So a task's log is a run of numbered slots, each inserted once under its
    own `_id` (an insert on a taken `_id` fails, on every server), and every read is an `_id` lookup. A
    writer that checks the next slot after writing converges: the last write is always followed by a check
    that saw every event it folded, so two replicas projecting one task never lose an event.

    The slots a replica has seen are kept in memory for the tasks still running (the newest `remembered`
    of them): a task's events all travel on one partition number, so one replica usually projects each
    task, and appending then costs one insert, one write and one lookup. An ended task is forgotten at once
    (a late duplicate reads it back): remembering every task made the gateway grow by about 115 KiB per task
    in the soak (docs/reliability.md).
    """

    def __init__(
        self,
        store: TaskWriter,
        clock: Callable[[], datetime] = utc_now,
        attempts: int = 20,
        remembered: int = 256,
    ) -> None:
        self._store = store
        self._clock = clock
        self._attempts = attempts
        self._remembered = remembered
        self._logs: OrderedDict[str, list[TracedEvent]] = OrderedDict()

    async def apply(self, event: ProjectedEvent, trace_id: str | None = None) -> TaskState | None:
        """Project one event; returns the new state, or None when it changed nothing (a duplicate)."""
        task_id = event.task_id
        if task_id is None:
            return None
        known = self._logs.get(task_id)
        if known is None:
            current = await self._store.load(task_id)
            if current is not None and event.event_id in current.applied_events:
                return None
            known = await self._read_on(task_id, [])
        elif _holds(known, event.event_id):
            return None
        known = await self._append(task_id, known, (event, trace_id))
        for _ in range(self._attempts):
            state = fold(known, now=self._clock())
            if state is None:
                return None
            await self._store.put(state, _log_of(known))
            seen = len(known)
            known = await self._read_on(task_id, known)
            if len(known) == seen:
                self._remember(task_id, known, state)
                return state
        self._logs.pop(task_id, None)
        raise WriteConflict(f"task {task_id}: its events kept changing over {self._attempts} attempts")

    async def _append(self, task_id: str, known: list[TracedEvent], traced: TracedEvent) -> list[TracedEvent]:
        """`known` with `traced` appended at the end of the stored log, unless the log holds it already
        (a redelivery after a crash, or another replica was first)."""
        while not _holds(known, traced[0].event_id):
            if await self._store.append(task_id, len(known), traced):
                return [*known, traced]
            known = await self._read_on(task_id, known)
        return known

    async def _read_on(self, task_id: str, known: list[TracedEvent]) -> list[TracedEvent]:
        """`known` followed by every slot stored after it."""
        known = list(known)
        while (slot := await self._store.slot(task_id, len(known))) is not None:
            known.append(slot)
        return known

    @property
    def remembered_tasks(self) -> int:
        return len(self._logs)

    def _remember(self, task_id: str, known: list[TracedEvent], state: TaskState) -> None:
        if state.terminal:
            self._logs.pop(task_id, None)
            return
        self._logs[task_id] = known
        self._logs.move_to_end(task_id)
        while len(self._logs) > self._remembered:
            self._logs.popitem(last=False)


def _holds(known: list[TracedEvent], event_id: str) -> bool:
    return any(event.event_id == event_id for event, _ in known)


def _log_of(known: list[TracedEvent]) -> list[LogEntry]:
    entries = {e.event_id: e for event, _ in known if (e := log_entry(event)) is not None}
    return sorted(entries.values(), key=lambda e: (e.time, e.event_id))


def subscribe_projector(broker: KafkaBroker, settings: Settings, projector: Projector) -> None:
    """One consumer group over every topic, from the earliest offset, so a new deployment rebuilds every
    task. Errors (MongoDB away) nack the message so it is read again instead of lost: the offset is committed
    only once the event is written, so after an outage the projection resumes from the first unwritten event."""

    @broker.subscriber(
        *settings.topics.all(),
        group_id=group_name(settings, "projection"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    async def project_event(message: KafkaMessage) -> None:
        event = read_event(message.body, settings.max_event_bytes)
        if event is None:
            # Not ours to dead-letter: the consumer this message was meant for does that.
            _log.info("projection skipped an unreadable message", message_id=message.message_id)
            return
        trace_id = trace_id_from(message.headers.get("traceparent"))
        with structlog.contextvars.bound_contextvars(task_id=event.task_id, task_trace_id=trace_id):
            try:
                await projector.apply(event, trace_id)
            except Exception as exc:
                if is_transient(exc):
                    # MongoDB is away: the nack rewinds to this event, read again after a pause. Nothing is
                    # committed past it, so the projection catches up from here when MongoDB is back.
                    _log.warning("projection.retry_transient", error=brief(exc))
                    await asyncio.sleep(_PAUSE_S)
                raise
