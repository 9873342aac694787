"""Whether the executor may run a plan: the pure rules, over the plan and what the ledger recorded for it.

The executor runs only the plan the planner recorded, for the tenant that first submitted the task, and only
if every step passes the plan rules under the constraints of that submission (not those the event carries)
and under the tenant's policy as the executor read it (not as the planner saw it: it may have changed since).
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas import Envelope, PlanCreated, TaskSubmitted
from schemas.policy import TenantPolicy
from toolbox import ToolSpec
from troupe.boundary import differs_from_record
from troupe.policy_gate import gate_problems

__all__ = ["forged_plan", "plan_refusal"]


def forged_plan(event: PlanCreated, owner: Envelope | None, recorded: Envelope | None) -> str | None:
    """Why `event` is not a plan the pipeline made for this task, or None when it is."""
    if owner is None:
        return f"task {event.task_id!r} was never submitted to the planner"
    if owner.tenant != event.tenant:
        return f"task {event.task_id!r} belongs to another tenant than {event.tenant!r}"
    return differs_from_record(event, recorded)


def plan_refusal(
    event: PlanCreated, owner: TaskSubmitted, tools: Mapping[str, ToolSpec], policy: TenantPolicy
) -> str | None:
    """Why the executor will not run the plan's steps, or None when every step may run."""
    if event.context.request != owner.request or event.context.submitted_at != owner.occurred_at:
        return "the plan's task context is not the one the task was submitted with"
    problems = gate_problems(event.plan, tools, owner.request.constraints, policy)
    if problems:
        return "the executor refused the plan: " + "; ".join(problems)
    return None
