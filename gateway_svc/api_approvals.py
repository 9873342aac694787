"""A person's answer to a plan that waits for approval. The gateway records the decision once in the stage
ledger, then publishes it; the executor acts only on the decision recorded (decision 16)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, status
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, Field

from gateway_svc.access import Caller
from gateway_svc.api_errors import refusals
from gateway_svc.api_tasks import TaskId, owned_task, publish_or_503
from gateway_svc.components import Parts
from gateway_svc.task_state import TaskStatus
from schemas import ApprovalDecided, ApprovalDecision, PlanAwaitingApproval
from troupe.approval_records import decision_key, wait_key
from troupe.stages import caused_by

__all__ = ["ApprovalAnswer", "DecisionRecorded", "router"]

router = APIRouter(tags=["approvals"], responses=refusals(401, 429, 503))
_tracer = trace.get_tracer(__name__)


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=2_000, description="Shown in the task; a rejection's reason.")


class DecisionRecorded(BaseModel):
    task_id: str
    iteration: int
    plan_hash: str = Field(description="The plan the decision is for.")
    decision: ApprovalDecision
    decided_by: str = Field(description="The key id that decided.")
    role: str | None


@router.post(
    "/tasks/{task_id}/approval",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DecisionRecorded,
    responses=refusals(
        400,
        403,
        404,
        409,
        why={
            403: "The key's role is not one of the tenant policy's approvals.approver_roles.",
            409: "The task does not await approval, or its plan was already decided (or expired).",
        },
    ),
)
async def answer_approval(
    task_id: TaskId, answer: ApprovalAnswer, caller: Caller, parts: Parts
) -> DecisionRecorded:
    """Approve or reject the plan the task waits with: the executor then runs it, or the task ends declined."""
    task = await owned_task(parts, task_id, caller.tenant)
    roles = (await parts.policies.get(caller.tenant)).approvals.approver_roles
    if caller.role.value not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"a key with role {caller.role.value!r} cannot answer approvals; tenant policy "
            f"approvals.approver_roles allows: {', '.join(roles) or 'none'}",
        )
    if task.status is not TaskStatus.AWAITING_APPROVAL or task.approval is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"task {task_id} does not await approval ({task.status})"
        )
    wait = await parts.ledger.find(wait_key(task_id, task.approval.iteration))
    if not isinstance(wait, PlanAwaitingApproval) or wait.tenant != caller.tenant:
        raise HTTPException(status.HTTP_409_CONFLICT, f"task {task_id} does not await approval")
    decision = ApprovalDecision(answer.decision)
    event = ApprovalDecided(
        **caused_by(wait, "approval", wait.iteration, decision.value),
        plan_hash=wait.plan_hash,
        decision=decision,
        comment=answer.comment,
        decided_by=caller.key_id,
        role=caller.role.value,
    )
    stored = await parts.ledger.record_once(decision_key(task_id, wait.iteration), event)
    assert isinstance(stored, ApprovalDecided)  # only decisions are recorded under a decision key
    if (stored.decision, stored.decided_by) != (decision, caller.key_id):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"the plan of task {task_id} iteration {wait.iteration} was already decided: "
            f"{stored.decision} by {stored.decided_by}",
        )
    # The same answer again (a retry) publishes the recorded decision again: the first may not have gone out.
    with _tracer.start_as_current_span("task approval"):
        await publish_or_503(parts, stored)
    return DecisionRecorded(
        task_id=task_id,
        iteration=stored.iteration,
        plan_hash=stored.plan_hash,
        decision=stored.decision,
        decided_by=stored.decided_by,
        role=stored.role,
    )
