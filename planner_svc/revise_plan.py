"""On review completed with verdict revise: plan the next iteration from the review's feedback and results."""

from __future__ import annotations

from planner_svc.deps import SERVICE, PlannerDeps
from planner_svc.plan_writer import Revision
from planner_svc.planning import plan_iteration
from schemas import ReviewCompleted, Verdict
from troupe.artefacts import excerpted_results
from troupe.boundary import differs_from_record, refuse
from troupe.ledger import stage_key

__all__ = ["revise_plan"]


async def revise_plan(event: ReviewCompleted, deps: PlannerDeps) -> None:
    # The reviewer ends the task when the budget is spent; checking here too keeps a late or duplicate
    # review from starting an iteration the task may not have.
    if (
        event.verdict is not Verdict.REVISE
        or event.iteration >= event.context.request.constraints.max_iterations
    ):
        return
    # The next plan is written from the review's feedback and context: only the reviewer's own review counts.
    recorded = await deps.ledger.find(stage_key("review", event.task_id, event.iteration))
    if (forged := differs_from_record(event, recorded)) is not None:
        refuse(SERVICE, event, forged)
    shown = await excerpted_results(deps.artefacts, event.tenant, event.results, deps.excerpt_max_chars)
    revision = Revision(event.feedback, event.plan, shown)
    await plan_iteration(event, event.context, iteration=event.iteration + 1, revision=revision, deps=deps)
