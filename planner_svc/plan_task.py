"""On task submitted: claim the task id for its tenant, refuse a task that cannot run as asked, then plan the
first iteration."""

from __future__ import annotations

from planner_svc.deps import SERVICE, PlannerDeps
from planner_svc.planning import plan_iteration
from schemas import FinalStatus, TaskContext, TaskSubmitted
from troupe.boundary import claim_task
from troupe.stages import finish

__all__ = ["plan_task"]


async def plan_task(event: TaskSubmitted, deps: PlannerDeps) -> None:
    owner = await claim_task(deps.ledger, event, by=SERVICE)
    if (refusal := deps.refusal(event.request)) is not None:
        await finish(deps.ledger, deps.publisher, event, FinalStatus.REJECTED, by=SERVICE, reason=refusal)
        return
    context = TaskContext.starting(event.request, submitted_at=event.occurred_at)
    # A claim recorded by this very delivery: no plan can be recorded yet, as plans come after the claim.
    await plan_iteration(event, context, iteration=1, revision=None, deps=deps, claimed_now=owner is event)
