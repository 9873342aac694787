"""Which tasks' artefacts are past retention, and removing them (decision 12).

Retention counts from the end of the task, as Temporal counts a namespace's retention from a workflow's
close: a task that is still running keeps its artefacts however old they are, and all of a task's artefacts
go together, so a task never shows half of its outputs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from troupe.artefacts.store import ArtefactStore, TaskArtefacts

__all__ = ["Pruned", "TaskEnd", "TaskEnds", "expired", "prune"]


@dataclass(frozen=True)
class TaskEnd:
    """What the task projection says of a task: whose it is, and when it ended (None while it runs)."""

    tenant: str
    ended_at: datetime | None


# A task's end as the projection knows it; None when the projection does not know the task.
TaskEnds = Callable[[str], Awaitable[TaskEnd | None]]


@dataclass(frozen=True)
class Pruned:
    tasks: list[TaskArtefacts]
    artefacts: int


def expired(task: TaskArtefacts, end: TaskEnd | None, cutoff: datetime) -> bool:
    """Whether `task`'s artefacts are to go: its end is before `cutoff`.

    Artefacts of a task the projection does not know, or knows under another tenant (so no API call can
    reach them), go by when the newest of them was stored; undated ones are kept.
    """
    if end is not None and end.tenant == task.tenant:
        return end.ended_at is not None and end.ended_at < cutoff
    return task.last_stored is not None and task.last_stored < cutoff


async def prune(
    store: ArtefactStore, ends: TaskEnds, retention: timedelta, now: datetime, *, dry_run: bool = False
) -> Pruned:
    """Remove the artefacts of every task that ended more than `retention` before `now` (none if it is 0);
    with `dry_run`, only say what would go."""
    if retention <= timedelta(0):
        return Pruned([], 0)
    cutoff = now - retention
    due = [
        task for task in await store.tasks_with_artefacts() if expired(task, await ends(task.task_id), cutoff)
    ]
    if dry_run:
        return Pruned(due, sum([len(await store.list_for_task(t.tenant, t.task_id)) for t in due]))
    return Pruned(due, await store.delete_for_tasks([(t.tenant, t.task_id) for t in due]))
