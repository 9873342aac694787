"""What every stage of the pipeline does the same way: emit its output once, end a task once, and check
whether a task is still worth working on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import JsonValue

from schemas import Envelope, FinalStatus, TaskContext, TaskFinished, deterministic_event_id, utc_now
from troupe.ledger import Ledger, finished_key
from troupe.logs import get_logger
from troupe.metrics import record_task_finished
from troupe.publishing import EventPublisher

__all__ = ["caused_by", "emit_once", "ended_already", "finish", "past_deadline"]

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


async def emit_once(ledger: Ledger, publisher: EventPublisher, key: str, event: Envelope) -> Envelope:
    """Persist, then publish: whatever is recorded first under `key` is what goes out, every time."""
    stored = await ledger.record_once(key, event)
    await publisher.publish(stored)
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
    event = TaskFinished(
        **caused_by(cause, "finished"),
        status=status,
        result=result,
        reason=reason,
        finished_by=by,
    )
    stored = await emit_once(ledger, publisher, finished_key(cause.task_id), event)
    if stored is event:  # counted once per task, not per redelivery
        record_task_finished(status.value, _seconds_since_submission(cause, event.occurred_at))
    return stored


async def ended_already(ledger: Ledger, publisher: EventPublisher, task_id: str) -> bool:
    """Whether the task has ended; if so, its end goes out again before the stage skips its work.

    A process can die between recording the end and publishing it (kill -9, OOM); the redelivered input is
    then the only chance to publish it, so the record is republished rather than taken as done. A copy
    already on the topic costs a duplicate of the same event id, which every consumer tolerates.
    """
    ended = await ledger.find(finished_key(task_id))
    if ended is not None:
        await publisher.publish(ended)
    return ended is not None


def _seconds_since_submission(cause: Envelope, now: datetime) -> float | None:
    context = getattr(cause, "context", None)
    submitted = context.submitted_at if isinstance(context, TaskContext) else None
    if submitted is None and cause.type == "task.submitted":
        submitted = cause.occurred_at
    return (now - submitted).total_seconds() if submitted is not None else None


def past_deadline(context: TaskContext, now: datetime | None = None) -> bool:
    return (now or utc_now()) >= context.deadline
