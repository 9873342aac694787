"""The projection's reader: every topic, in batches, into the projector; a batch is committed once stored.

A plain aiokafka consumer rather than a FastStream subscriber: a batch is what makes the projection keep up
(one write and one check per task in it, its tasks at once: see `Projector.apply_many`), and FastStream's
batch subscriber sleeps a whole poll timeout after an empty poll, which would delay the first event after a
quiet spell by up to that timeout. `getmany` here returns as soon as anything arrives.

Delivery is at least once, as before: offsets are committed only after the whole batch is stored. The commit
runs while the next batch is projected, not before it is read: a commit is a round trip to the group
coordinator, and a task's events come one after another, so waiting for it put its latency between every two
events of a task and its final status. Offsets whose commit failed are committed with the next ones; until
then a restart reads their events again, which changes nothing. While MongoDB is away the batch is retried,
in place, until it is back; any other error is retried `max_attempts` times, then the batch is projected
event by event and an event that still fails is logged and skipped, so one unprojectable event cannot hold
the projection.

Nothing ends the reader but `stop()`: an error nobody foresaw (in reading or projecting, or a bug) is logged,
the failed batch is read again after a pause; one in committing is logged and its offsets kept for the next
commit. `alive()` turns false after `_FAILING_AFTER` such failures in a row, which the gateway's liveness
probe reports so that an orchestrator restarts the replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from gateway_svc.projection import ProjectedEvent, TracedEvent, read_event, trace_id_from
from gateway_svc.projector import Projector
from gateway_svc.readers import start_consumer, stop_reader
from troupe.errors import brief
from troupe.logs import get_logger
from troupe.outages import when_reachable
from troupe.service import group_name
from troupe.settings import Settings

__all__ = ["ProjectionConsumer"]

_log = get_logger(__name__)
_PAUSE_S = 1.0
_POLL_MS = 1_000
_FAILING_AFTER = 5
_FINAL_COMMIT_S = 5.0

Batches = dict[TopicPartition, list[ConsumerRecord[Any, Any]]]


class ProjectionConsumer:
    def __init__(
        self, settings: Settings, projector: Projector, max_records: int = 256, max_attempts: int = 5
    ) -> None:
        self._settings = settings
        self._projector = projector
        self._max_records = max_records
        self._max_attempts = max_attempts
        self._tracer = trace.get_tracer("troupe.gateway.projection")
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._failures = 0  # unforeseen failures in a row
        self._commits = _Commits()

    async def start(self) -> None:
        """One consumer group over every topic, from the earliest offset: a new deployment rebuilds every task."""
        settings = self._settings
        consumer = AIOKafkaConsumer(
            *settings.topics.all(),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.service_name}-projection",
            group_id=group_name(settings, "projection"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            request_timeout_ms=settings.kafka_request_timeout_ms,
        )
        await start_consumer(consumer)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="gateway-projection")

    async def stop(self) -> None:
        await stop_reader(self._task, self._consumer)

    def alive(self) -> bool:
        """Whether the reader is reading: started, not ended, and not failing batch after batch."""
        return (
            self._task is not None
            and not self._task.done()
            and max(self._failures, self._commits.failures) < _FAILING_AFTER
        )

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                await self._read_a_batch(consumer)
                self._commits.start(consumer)
        finally:
            await self._commits.finish(consumer)

    async def _read_a_batch(self, consumer: AIOKafkaConsumer) -> None:
        batches: Batches = {}
        try:
            batches = await consumer.getmany(timeout_ms=_POLL_MS, max_records=self._max_records)
            if batches:
                await self._project([r for part in batches.values() for r in part])
                self._commits.owe({tp: part[-1].offset + 1 for tp, part in batches.items()})
            self._failures = 0
        except KafkaError as exc:  # the reader must outlive a broker outage; aiokafka reconnects
            _log.warning("projection.read_failed", error=brief(exc))
            await asyncio.sleep(_PAUSE_S)
        except Exception as exc:
            # Ending here would leave every task's status stale with nothing said: the projection reads the
            # failed batch again instead, and says it is failing.
            self._failures += 1
            _log.error("projection.batch_failed", attempt=self._failures, error=brief(exc), exc_info=exc)
            _rewind(consumer, batches)
            await asyncio.sleep(_PAUSE_S * min(self._failures, 5))

    async def _project(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        events, parents = self._read(records)
        if not events:
            return
        failures = 0
        while True:
            try:
                await _through_outages(
                    "projecting a batch",
                    partial(self._projector.apply_many, events, scope=partial(self._span, parents)),
                )
                return
            except Exception as exc:
                failures += 1
                _log.warning("projection.retry", attempt=failures, error=brief(exc))
                if failures >= self._max_attempts:
                    await self._one_by_one(events, parents)
                    return
                await asyncio.sleep(_PAUSE_S * failures)

    async def _one_by_one(self, events: list[TracedEvent], parents: dict[str, Any]) -> None:
        for event, trace_id in events:
            try:
                await _through_outages(
                    "projecting an event", partial(self._apply_one, parents, event, trace_id)
                )
            except Exception as exc:
                _log.error(
                    "projection.skipped_event",
                    task_id=event.task_id,
                    event_id=event.event_id,
                    error=brief(exc),
                )

    async def _apply_one(self, parents: dict[str, Any], event: ProjectedEvent, trace_id: str | None) -> None:
        with self._span(parents, [(event, trace_id)]):
            await self._projector.apply(event, trace_id)

    def _read(self, records: Sequence[ConsumerRecord[Any, Any]]) -> tuple[list[TracedEvent], dict[str, Any]]:
        """The readable events with their trace ids, and each event's trace context (its span's parent)."""
        events: list[TracedEvent] = []
        parents: dict[str, Any] = {}
        for record in records:
            event = read_event(record.value or b"", self._settings.max_event_bytes)
            if event is None:
                # Not ours to dead-letter: the consumer this message was meant for does that.
                _log.info(
                    "projection skipped an unreadable message", topic=record.topic, offset=record.offset
                )
                continue
            # A header's value may be null on the wire.
            carrier = {
                k: (v or b"").decode(errors="replace") for k, v in record.headers or () if k == "traceparent"
            }
            events.append((event, trace_id_from(carrier.get("traceparent"))))
            parents[event.event_id] = propagate.extract(carrier)
        return events, parents

    @contextlib.contextmanager
    def _span(self, parents: dict[str, Any], events: Sequence[TracedEvent]) -> Iterator[None]:
        """A span in the task's trace (all of a task's events share one) over projecting its events."""
        last = events[-1][0]
        with self._tracer.start_as_current_span(
            "project " + ", ".join(dict.fromkeys(e.type for e, _ in events)),
            context=parents.get(last.event_id),
            kind=SpanKind.CONSUMER,
            attributes={"troupe.task_id": last.task_id or "", "troupe.events": len(events)},
        ):
            yield


async def _through_outages(what: str, call: Callable[[], Awaitable[object]]) -> None:
    """While MongoDB is away every event would fail alike: the call waits for it, in place, every `_PAUSE_S`.
    Nothing is committed past the batch meanwhile, so the projection resumes from it when it is back."""
    await when_reachable(
        what, call, pause_s=_PAUSE_S, max_pause_s=_PAUSE_S, logged_as="projection.retry_transient"
    )


def _rewind(consumer: AIOKafkaConsumer, batches: Batches) -> None:
    """Read `batches` again: the consumer's position is already past them, and they are not committed."""
    for tp, part in batches.items():
        with contextlib.suppress(KafkaError):  # rebalanced away: its new owner reads from the commit
            consumer.seek(tp, part[0].offset)


class _Commits:
    """The offsets of stored batches, committed in the background, one commit after another."""

    def __init__(self) -> None:
        self._owed: dict[TopicPartition, int] = {}
        self._running: asyncio.Task[None] | None = None
        self.failures = 0  # unforeseen failures in a row

    def owe(self, offsets: dict[TopicPartition, int]) -> None:
        self._owed.update(offsets)

    def start(self, consumer: AIOKafkaConsumer) -> None:
        """Commit what is owed, unless commits are running already (they commit it next)."""
        if self._owed and (self._running is None or self._running.done()):
            self._running = asyncio.create_task(self._commit_owed(consumer), name="projection-commit")

    async def finish(self, consumer: AIOKafkaConsumer) -> None:
        """On stopping: let the running commits end, then commit what is still owed, within a few seconds."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_FINAL_COMMIT_S):
                if self._running is not None:
                    await self._running
                if self._owed:
                    await consumer.commit(self._owed)

    async def _commit_owed(self, consumer: AIOKafkaConsumer) -> None:
        while self._owed:
            offsets, self._owed = self._owed, {}
            try:
                await consumer.commit(offsets)
                self.failures = 0
            except KafkaError as exc:
                # Rebalanced away, or the broker is gone: the batch is read again by whoever owns it next,
                # and a projected event applied twice changes nothing.
                _log.warning("projection.commit_failed", error=brief(exc))
            except Exception as exc:
                # Kept for the next commit, unless a later batch of the same partition moved past it.
                self._owed = {**offsets, **self._owed}
                self.failures += 1
                _log.error("projection.commit_error", attempt=self.failures, error=brief(exc), exc_info=exc)
                return
