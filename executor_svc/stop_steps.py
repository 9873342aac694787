"""On cancel requested: stop the task's running steps in this replica (every replica hears every cancel)."""

from __future__ import annotations

from executor_svc.deps import ExecutorDeps
from schemas import CancelRequested

__all__ = ["stop_steps"]


async def stop_steps(event: CancelRequested, deps: ExecutorDeps) -> None:
    deps.running.stop(event.task_id)
