"""The Kafka boundary: a worker acts on a well-formed event only when the pipeline's own records agree with it.

Anyone who may write to a topic can publish a well-formed event for any task (docs/security.md). The stage
ledger is written only by the services, so it is the record of what the pipeline did: the first submission
of a task id names the task's owner, and every stage's output is recorded before it is published. An event
that contradicts those records is refused: it is not acted on, it is logged and counted, and the consumer
dead-letters it with the reason.
"""

from __future__ import annotations

from typing import NoReturn

from schemas import Envelope, TaskSubmitted
from troupe.ledger import Ledger
from troupe.logs import get_logger
from troupe.metrics import record_event_refused

__all__ = ["EventRefused", "claim_task", "differs_from_record", "owner_key", "refuse"]

log = get_logger(__name__)


class EventRefused(Exception):
    """A well-formed event the pipeline's records contradict; `reason` goes into its dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def owner_key(task_id: str) -> str:
    return f"owner:{task_id}"


def refuse(consumer: str, event: Envelope, reason: str) -> NoReturn:
    log.warning(
        "event.refused",
        consumer=consumer,
        type=event.type,
        event_id=event.event_id,
        task_id=event.task_id,
        tenant=event.tenant,
        reason=reason,
    )
    record_event_refused(consumer, event.type)
    raise EventRefused(reason)


async def claim_task(ledger: Ledger, event: TaskSubmitted, *, by: str) -> TaskSubmitted:
    """The task's first recorded submission, recording `event` as it when there is none yet. A submission
    from another tenant than the first is refused: a task id, and the workspace and records under it, belong
    to one tenant."""
    owner = await ledger.record_once(owner_key(event.task_id), event)
    if owner.tenant != event.tenant:
        refuse(
            by, event, f"task id {event.task_id!r} already belongs to another tenant than {event.tenant!r}"
        )
    assert isinstance(owner, TaskSubmitted)  # only submissions are recorded under an owner key
    return owner


def differs_from_record(event: Envelope, recorded: Envelope | None) -> str | None:
    """Why `event` is not the event the pipeline recorded for it, or None when it is."""
    if recorded is None:
        return (
            f"no {event.type} was recorded for task {event.task_id!r} iteration {event.iteration}: "
            "it was not published by the pipeline"
        )
    if recorded != event:
        return (
            f"it is not the {event.type} the pipeline recorded for task {event.task_id!r} iteration "
            f"{event.iteration} (recorded event {recorded.event_id}, this one {event.event_id})"
        )
    return None
