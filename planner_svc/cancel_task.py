"""On cancel requested: end the task cancelled, unless it has already ended.

The planner decides cancellations for the whole pipeline; the executor also listens, to stop running steps.
"""

from __future__ import annotations

from planner_svc.deps import SERVICE, PlannerDeps
from schemas import CancelRequested, FinalStatus
from troupe.boundary import owner_key, refuse
from troupe.stages import finish

__all__ = ["cancel_task"]


async def cancel_task(event: CancelRequested, deps: PlannerDeps) -> None:
    # A task not claimed yet has no owner to compare with: its submission may still be on its way.
    owner = await deps.ledger.find(owner_key(event.task_id))
    if owner is not None and owner.tenant != event.tenant:
        refuse(SERVICE, event, f"task {event.task_id!r} belongs to another tenant than {event.tenant!r}")
    await finish(deps.ledger, deps.publisher, event, FinalStatus.CANCELLED, by=SERVICE, reason=event.reason)
