"""Holding a plan that needs approval: record the wait once, publish it, and index it for the expiry sweep.

The tenant's policy is the one read from the store by the task owner's tenant, never taken from the event, so a
plan.created cannot say it needs no approval. A revision whose plan hash an earlier iteration's approval
named runs at once: it changes no step a person approved.
"""

from __future__ import annotations

from executor_svc.approval_gate import approved_hash, wait_for
from executor_svc.deps import ExecutorDeps
from schemas import PlanAwaitingApproval, PlanCreated, utc_now
from schemas.policy import TenantPolicy
from troupe.approval_records import decision_key, wait_key
from troupe.logs import get_logger
from troupe.policy_rules import plan_hash
from troupe.stages import emit_once

__all__ = ["hold_for_approval"]

log = get_logger(__name__)


async def hold_for_approval(event: PlanCreated, policy: TenantPolicy, deps: ExecutorDeps) -> bool:
    """True when the plan must wait (its wait is then recorded and published), False when it may run now."""
    recorded = await deps.ledger.find(wait_key(event.task_id, event.iteration))
    wait = recorded or wait_for(event, policy, utc_now())
    if wait is None:
        return False
    assert isinstance(wait, PlanAwaitingApproval)  # only waits are recorded under a wait key
    if recorded is None and await _approved_before(event, deps):
        return False
    # Indexed before it is recorded, as a wait the sweep cannot find would never expire; not again once
    # decided, as the decision's handler closed it.
    if await deps.ledger.find(decision_key(event.task_id, event.iteration)) is None:
        await deps.waits.open(event.task_id, event.iteration, wait.expires_at)
    stored = await emit_once(deps.ledger, deps.publisher, wait_key(event.task_id, event.iteration), wait)
    log.info("plan.awaiting_approval", task_id=event.task_id, iteration=event.iteration, new=stored is wait)
    return True


async def _approved_before(event: PlanCreated, deps: ExecutorDeps) -> bool:
    wanted = plan_hash(event.plan)
    for iteration in range(event.iteration - 1, -1, -1):
        if approved_hash(await deps.ledger.find(decision_key(event.task_id, iteration))) == wanted:
            return True
    return False
