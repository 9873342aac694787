"""The gateway's sweep of artefacts past TROUPE_ARTEFACT_RETENTION_DAYS, timed by the task projection.

The gateway runs it because it holds the projection, which knows when each task ended; every gateway
replica sweeps, and two sweeps at once only delete the same things twice (decision 12).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from gateway_svc.projection_store import TaskReader
from schemas import utc_now
from troupe.artefacts import ArtefactStore, Pruned, TaskEnd, TaskEnds, prune
from troupe.errors import brief
from troupe.logs import get_logger

__all__ = ["ArtefactSweep", "prune_expired", "task_ends"]

_log = get_logger(__name__)


def task_ends(tasks: TaskReader) -> TaskEnds:
    """A task's end from its projected state: the last change of a task in a final status, which a later
    change can only move later, so nothing goes before its time."""

    async def end_of(task_id: str) -> TaskEnd | None:
        state = await tasks.load(task_id)
        if state is None:
            return None
        return TaskEnd(state.tenant, state.updated_at if state.terminal else None)

    return end_of


async def prune_expired(
    artefacts: ArtefactStore, tasks: TaskReader, retention_days: float, *, dry_run: bool = False
) -> Pruned:
    return await prune(
        artefacts, task_ends(tasks), timedelta(days=retention_days), utc_now(), dry_run=dry_run
    )


class ArtefactSweep:
    """Calls `sweep` at start and then every `interval_s` seconds until stopped; a failed sweep is logged
    and the next one tries again."""

    def __init__(self, sweep: Callable[[], Awaitable[Pruned]], interval_s: float) -> None:
        self._sweep = sweep
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-artefact-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                pruned = await self._sweep()
            except Exception as exc:  # an outage or a refused command: the sweep must not end the gateway
                _log.warning("artefacts.sweep_failed", error=brief(exc))
            else:
                if pruned.tasks:
                    _log.info("artefacts.pruned", tasks=len(pruned.tasks), artefacts=pruned.artefacts)
            await asyncio.sleep(self._interval_s)
