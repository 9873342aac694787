"""On task finished: the task's workspace goes (after the retention time), on whichever replica holds it."""

from __future__ import annotations

from executor_svc.workspaces import Workspaces
from schemas import TaskFinished
from troupe.boundary import differs_from_record
from troupe.ledger import Ledger, finished_key
from troupe.logs import get_logger

__all__ = ["remove_workspace"]

log = get_logger(__name__)


async def remove_workspace(event: TaskFinished, workspaces: Workspaces, ledger: Ledger) -> None:
    """Only for the ending the pipeline recorded: a forged `task.finished` would delete a running task's files.
    Nothing is dead-lettered here (this reader has no consumer group; the projection flags forged endings)."""
    if not workspaces.holds(event.tenant, event.task_id):
        return  # another replica's task, or gone already: no record to read
    problem = differs_from_record(event, await ledger.find(finished_key(event.task_id)))
    if problem is not None:
        log.warning("workspace.kept", task_id=event.task_id, tenant=event.tenant, reason=problem)
        return
    await workspaces.release(event.tenant, event.task_id)
