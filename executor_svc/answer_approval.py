"""On approval decided: run the waiting plan, or end the task declined or timed out.

Only the decision the ledger recorded for the iteration is acted on, and only for the plan hash the wait
named: an approval.decided written straight to Kafka, or one for another plan, is refused (dead-lettered).
"""

from __future__ import annotations

import asyncio

from executor_svc.approval_gate import approval_problem
from executor_svc.deps import SERVICE, ExecutorDeps
from executor_svc.execute_plan import run_approved_plan
from schemas import ApprovalDecided, ApprovalDecision, FinalStatus, PlanAwaitingApproval, PlanCreated
from troupe.approval_records import decision_key, wait_key
from troupe.boundary import differs_from_record, refuse
from troupe.ledger import stage_key
from troupe.logs import get_logger
from troupe.stages import finish

__all__ = ["answer_approval"]

log = get_logger(__name__)


async def answer_approval(event: ApprovalDecided, deps: ExecutorDeps) -> None:
    decided, wait, planned = await asyncio.gather(
        deps.ledger.find(decision_key(event.task_id, event.iteration)),
        deps.ledger.find(wait_key(event.task_id, event.iteration)),
        deps.ledger.find(stage_key("plan", event.task_id, event.iteration)),
    )
    if (forged := differs_from_record(event, decided)) is not None:
        refuse(SERVICE, event, forged)
    if not isinstance(planned, PlanCreated):
        refuse(SERVICE, event, f"no plan was recorded for task {event.task_id!r} iteration {event.iteration}")
    if (problem := approval_problem(planned, wait, event)) is not None:
        refuse(SERVICE, event, problem)
    assert isinstance(wait, PlanAwaitingApproval)  # approval_problem checked it
    # Closed before acting: the expiry sweep must not find a wait that is being answered. A crash from here
    # on redelivers this event, which is then the only thing that resumes the task.
    await deps.waits.close(event.task_id, event.iteration)
    log.info("approval.decided", task_id=event.task_id, iteration=event.iteration, decision=event.decision)
    match event.decision:
        case ApprovalDecision.APPROVE:
            if not deps.running.busy(event.task_id):  # the sweep may republish what a run is acting on
                await run_approved_plan(planned, deps)
        case ApprovalDecision.REJECT:
            said = f": {event.comment}" if event.comment else ""
            reason = f"declined by {event.decided_by} ({event.role or 'no role'}){said}"
            await finish(
                deps.ledger, deps.publisher, planned, FinalStatus.DECLINED, by=SERVICE, reason=reason
            )
        case ApprovalDecision.EXPIRE:
            await finish(
                deps.ledger,
                deps.publisher,
                planned,
                FinalStatus.TIMED_OUT,
                by=SERVICE,
                reason=wait.expiry_reason,
            )
