"""On review completed with verdict revise: plan the next iteration from the review's feedback and results."""

from __future__ import annotations

from planner_svc.deps import SERVICE, PlannerDeps
from planner_svc.plan_writer import Revision
from planner_svc.planning import plan_iteration
from schemas import FinalStatus, ReviewCompleted, Verdict
from troupe.artefacts import excerpted_results
from troupe.boundary import differs_from_record, refuse
from troupe.ledger import stage_key
from troupe.policy_gate import policy_iteration_cap
from troupe.stages import finish

__all__ = ["revise_plan"]


async def revise_plan(event: ReviewCompleted, deps: PlannerDeps) -> None:
    # The reviewer ends the task when the budget is spent; checking here too keeps a late or duplicate
    # review from starting an iteration the task may not have.
    constraints = event.context.request.constraints
    if event.verdict is not Verdict.REVISE or event.iteration >= constraints.max_iterations:
        return
    # The next plan is written from the review's feedback and context: only the reviewer's own review counts.
    recorded = await deps.ledger.find(stage_key("review", event.task_id, event.iteration))
    if (forged := differs_from_record(event, recorded)) is not None:
        refuse(SERVICE, event, forged)
    # The reviewer counts iterations against the task's own limit; the tenant's lower one is applied here.
    cap = policy_iteration_cap(constraints, await deps.policies.get(event.tenant))
    if cap is not None and event.iteration >= cap:
        reason = (
            f"the review asked for a revision, but tenant policy max_iterations allows {cap} iteration(s)"
        )
        await finish(
            deps.ledger, deps.publisher, event, FinalStatus.BUDGET_EXHAUSTED, by=SERVICE, reason=reason
        )
        return
    shown = await excerpted_results(deps.artefacts, event.tenant, event.results, deps.excerpt_max_chars)
    revision = Revision(event.feedback, event.plan, shown)
    await plan_iteration(event, event.context, iteration=event.iteration + 1, revision=revision, deps=deps)
