"""What every stage of the pipeline does the same way: emit its output once, end a task once, and check
whether a task is still worth working on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import JsonValue

from schemas import Envelope, FinalStatus, TaskContext, TaskFinished, deterministic_event_id, utc_now
from troupe.ledger import Ledger, finished_key
from troupe.logs import get_logger
from troupe.metrics import record_task_finished
from troupe.publishing import EventPublisher

__all__ = [
    "Recorded",
    "caused_by",
    "emit_once",
    "emit_with_end",
    "ending",
    "finish",
    "look_up",
    "past_deadline",
    "replay",
]

log = get_logger(__name__)


def caused_by(cause: Envelope, *id_parts: object, iteration: int | None = None) -> dict[str, Any]:
    """Envelope fields of an event `cause` led to: same task and tenant, an id derived from what it is."""
    return {
        "event_id": deterministic_event_id(cause.task_id, *id_parts),
        "task_id": cause.task_id,
        "tenant": cause.tenant,
        "iteration": cause.iteration if iteration is None else iteration,
        "causation_id": cause.event_id,
    }


async def emit_once(
    ledger: Ledger,
    publisher: EventPublisher,
    key: str,
    event: Envelope,
    *,
    then: Callable[[Envelope], Awaitable[object]] | None = None,
) -> Envelope:
    """Persist, then publish: whatever is recorded first under `key` is what goes out, every time.

    `then(stored)` is a follow-up that needs the output recorded but not yet published (the reviewer ends
    the task after its review): it runs while the output goes out, off the task's critical path. Both are
    awaited, and the first failure is raised once neither is still running.
    """
    stored = await ledger.record_once(key, event)
    outcomes = await asyncio.gather(
        publisher.publish(stored), *([then(stored)] if then is not None else []), return_exceptions=True
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    log.info(
        "stage.output", key=key, type=stored.type, iteration=stored.iteration, repeated=stored is not event
    )
    return stored


async def finish(
    ledger: Ledger,
    publisher: EventPublisher,
    cause: Envelope,
    status: FinalStatus,
    *,
    by: str,
    reason: str | None = None,
    result: JsonValue = None,
) -> Envelope:
    """End the task. Only the first outcome recorded counts; a later one republishes the first."""
    event = ending(cause, status, by=by, reason=reason, result=result)
    stored = await emit_once(ledger, publisher, finished_key(cause.task_id), event)
    if stored is event:  # counted once per task, not per redelivery
        _count_end(cause, event)
    return stored


def ending(
    cause: Envelope, status: FinalStatus, *, by: str, reason: str | None = None, result: JsonValue = None
) -> TaskFinished:
    """The task's end that `cause` leads to."""
    return TaskFinished(
        **caused_by(cause, "finished"), status=status, result=result, reason=reason, finished_by=by
    )


async def emit_with_end(
    ledger: Ledger, publisher: EventPublisher, key: str, event: Envelope, end: TaskFinished
) -> bool:
    """Record `event` under `key` and then the task's `end`, in one round trip, and publish both; True if
    done. False, with nothing published, when either key was taken already (a redelivery, or another stage
    ended the task): the caller then emits one by one, from what is recorded."""
    if await ledger.record_in_order([(key, event), (finished_key(end.task_id), end)]) < 2:
        return False
    outcomes = await asyncio.gather(publisher.publish(event), publisher.publish(end), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    log.info("stage.output", key=key, type=event.type, iteration=event.iteration, repeated=False)
    _count_end(event, end)
    return True


def _count_end(cause: Envelope, end: TaskFinished) -> None:
    record_task_finished(end.status.value, _seconds_since_submission(cause, end.occurred_at))


@dataclass(frozen=True)
class Recorded:
    """What the ledger already holds for a stage's input: the stage's own output, and the task's end."""

    output: Envelope | None
    end: Envelope | None

    @property
    def anything(self) -> bool:
        return self.output is not None or self.end is not None


async def look_up(ledger: Ledger, task_id: str, key: str) -> Recorded:
    """The stage's recorded output under `key` and the task's recorded end, read at once (two lookups on
    every event's critical path, so they do not wait for each other)."""
    output, end = await asyncio.gather(ledger.find(key), ledger.find(finished_key(task_id)))
    return Recorded(output, end)


async def replay(publisher: EventPublisher, recorded: Recorded) -> None:
    """Publish again whatever is recorded, before a stage skips its work for a redelivered input.

    A process can die between recording an event and publishing it (kill -9, OOM); the redelivered input is
    then the only chance to publish it, so a record is republished rather than taken as done. A copy
    already on the topic costs a duplicate of the same event id, which every consumer tolerates.
    """
    await asyncio.gather(*(publisher.publish(e) for e in (recorded.output, recorded.end) if e is not None))


def _seconds_since_submission(cause: Envelope, now: datetime) -> float | None:
    context = getattr(cause, "context", None)
    submitted = context.submitted_at if isinstance(context, TaskContext) else None
    if submitted is None and cause.type == "task.submitted":
        submitted = cause.occurred_at
    return (now - submitted).total_seconds() if submitted is not None else None


def past_deadline(context: TaskContext, now: datetime | None = None) -> bool:
    return (now or utc_now()) >= context.deadline
