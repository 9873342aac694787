"""The timer of every wait for approval: a sweep, on start and then periodically, over the waits now due.

For each, the executor records an expiry as the iteration's decision, once (the ledger's once-only write:
a person's answer recorded first wins, and a second sweep, on this replica or another, finds the same
record), then publishes whatever decision is recorded. The decision's handler ends the task, so an expiry
is acted on the same way as an answer. The index entry goes only once the decision is on Kafka, so a crash
anywhere in between leaves it due for the next sweep (decision 16).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from executor_svc.deps import SERVICE, ExecutorDeps
from schemas import ApprovalDecided, ApprovalDecision, PlanAwaitingApproval, utc_now
from troupe.approval_records import decision_key, wait_key
from troupe.errors import brief
from troupe.ledger import finished_key
from troupe.logs import get_logger
from troupe.stages import caused_by

__all__ = ["ExpirySweep", "expire_due"]

log = get_logger(__name__)


async def expire_due(deps: ExecutorDeps, now: datetime | None = None) -> int:
    """Publish the decision of every wait due by `now`; how many it found."""
    due = await deps.waits.due(now or utc_now())
    for task_id, iteration in due:
        await _expire(deps, task_id, iteration)
    return len(due)


async def _expire(deps: ExecutorDeps, task_id: str, iteration: int) -> None:
    wait, ended = await asyncio.gather(
        deps.ledger.find(wait_key(task_id, iteration)), deps.ledger.find(finished_key(task_id))
    )
    if isinstance(wait, PlanAwaitingApproval) and ended is None:
        expiry = ApprovalDecided(
            **caused_by(wait, "approval", iteration, ApprovalDecision.EXPIRE.value),
            plan_hash=wait.plan_hash,
            decision=ApprovalDecision.EXPIRE,
            comment=wait.expiry_reason,
            decided_by=SERVICE,
        )
        stored = await deps.ledger.record_once(decision_key(task_id, iteration), expiry)
        await deps.publisher.publish(stored)
        log.info("approval.expired", task_id=task_id, iteration=iteration, expired=stored is expiry)
    await deps.waits.close(task_id, iteration)


class ExpirySweep:
    """`expire_due` every `interval_s` from `start` to `stop`; a failed sweep is logged and tried again."""

    def __init__(self, deps: ExecutorDeps, interval_s: float) -> None:
        self._deps = deps
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            try:
                await expire_due(self._deps)
            except Exception as exc:  # MongoDB or Kafka away: the waits stay due for the next sweep
                log.warning("approval.sweep_failed", error=brief(exc))
            await asyncio.sleep(self._interval_s)
