"""Whether a plan waits for a person, and whether a decision lets it run: pure rules over the plan, the
tenant's stored policy and the ledger's records."""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas import ApprovalDecided, ApprovalDecision, Envelope, PlanAwaitingApproval, PlanCreated
from schemas.policy import TenantPolicy
from troupe.policy_rules import approval_reasons, plan_hash
from troupe.stages import caused_by

__all__ = ["approval_problem", "approved_hash", "wait_for"]


def wait_for(event: PlanCreated, policy: TenantPolicy, now: datetime) -> PlanAwaitingApproval | None:
    """The wait the plan must go through under `policy`, or None when it may run at once."""
    reasons = approval_reasons(event.plan, policy)
    if not reasons:
        return None
    rules = policy.approvals
    expires_at = now + timedelta(seconds=rules.timeout_s)
    why = f"no answer to the approval request within approvals.timeout_s ({rules.timeout_s} s)"
    if expires_at >= event.context.deadline:
        expires_at = event.context.deadline
        allowed = event.context.request.constraints.max_duration_s
        why = f"the deadline passed while the plan waited for approval ({allowed} s allowed)"
    return PlanAwaitingApproval(
        **caused_by(event, "approval-wait", event.iteration),
        plan_hash=plan_hash(event.plan),
        reasons=reasons,
        expires_at=expires_at,
        expiry_reason=why,
        approver_roles=rules.approver_roles,
    )


def approved_hash(decision: Envelope | None) -> str | None:
    """The plan hash a recorded decision approved, or None if it approved nothing."""
    if isinstance(decision, ApprovalDecided) and decision.decision is ApprovalDecision.APPROVE:
        return decision.plan_hash
    return None


def approval_problem(plan_event: PlanCreated, wait: Envelope | None, decision: ApprovalDecided) -> str | None:
    """Why `decision` (the one the ledger recorded) does not answer the wait of the recorded plan."""
    if not isinstance(wait, PlanAwaitingApproval) or wait.tenant != decision.tenant:
        return f"no plan of task {decision.task_id!r} iteration {decision.iteration} waits for approval"
    actual = plan_hash(plan_event.plan)
    if decision.plan_hash != actual or wait.plan_hash != actual:
        return (
            f"the decision is for plan {decision.plan_hash[:12]}, but the plan of iteration "
            f"{decision.iteration} is {actual[:12]}"
        )
    return None
