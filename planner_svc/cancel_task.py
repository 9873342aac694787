"""On cancel requested: end the task cancelled, unless it has already ended.

The planner decides cancellations for the whole pipeline; the executor also listens, to stop running steps.
"""

from __future__ import annotations

from planner_svc.deps import SERVICE, PlannerDeps
from schemas import CancelRequested, FinalStatus
from troupe.stages import finish

__all__ = ["cancel_task"]


async def cancel_task(event: CancelRequested, deps: PlannerDeps) -> None:
    await finish(deps.ledger, deps.publisher, event, FinalStatus.CANCELLED, by=SERVICE, reason=event.reason)
