"""On task finished: the task's workspace goes (after the retention time), on whichever replica holds it."""

from __future__ import annotations

from executor_svc.workspaces import Workspaces
from schemas import TaskFinished

__all__ = ["remove_workspace"]


async def remove_workspace(event: TaskFinished, workspaces: Workspaces) -> None:
    await workspaces.release(event.tenant, event.task_id)
