"""Executions in progress in this process, so a cancel request can stop a task's running steps."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["RunningTasks", "TaskStopped"]

T = TypeVar("T")


class TaskStopped(Exception):
    """The execution was stopped by a cancel request."""


class RunningTasks:
    def __init__(self) -> None:
        self._jobs: dict[str, asyncio.Task[Any]] = {}
        self._stopped: set[str] = set()

    async def run(self, task_id: str, work: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run `work` for the task; TimeoutError past `timeout_s`, TaskStopped if `stop` was called."""
        job = asyncio.ensure_future(work)
        self._jobs[task_id] = job
        try:
            async with asyncio.timeout(timeout_s):
                return await job
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task_id in self._stopped and (current is None or current.cancelling() == 0):
                raise TaskStopped(task_id) from None
            raise
        finally:
            self._jobs.pop(task_id, None)
            self._stopped.discard(task_id)

    def busy(self, task_id: str) -> bool:
        job = self._jobs.get(task_id)
        return job is not None and not job.done()

    def stop(self, task_id: str) -> bool:
        job = self._jobs.get(task_id)
        if job is None or job.done():
            return False
        self._stopped.add(task_id)
        job.cancel()
        return True
