"""The planning step shared by first plans and revisions: get a draft, validate it, emit it once."""

from __future__ import annotations

from planner_svc.deps import SERVICE, PlannerDeps
from planner_svc.plan_writer import Draft, PlanningFailed, Revision
from schemas import Envelope, FinalStatus, PlanCreated, TaskContext, Usage
from troupe.ledger import finished_key, stage_key
from troupe.plan_rules import plan_problems
from troupe.stages import Recorded, caused_by, emit_once, finish, look_up, past_deadline, replay

__all__ = ["plan_iteration"]


async def plan_iteration(
    cause: Envelope,
    context: TaskContext,
    iteration: int,
    revision: Revision | None,
    deps: PlannerDeps,
    claimed_now: bool = False,
) -> None:
    """`claimed_now`: the task was claimed by this delivery, so only its end can be recorded (a cancel may
    come before the submission), not a plan: one lookup instead of two."""
    key = stage_key("plan", cause.task_id, iteration)
    if claimed_now:
        recorded = Recorded(None, await deps.ledger.find(finished_key(cause.task_id)))
    else:
        recorded = await look_up(deps.ledger, cause.task_id, key)
    if recorded.anything:
        await replay(deps.publisher, recorded)  # redelivered input: repeat the recorded output, nothing new
        return
    if past_deadline(context):
        await finish(
            deps.ledger,
            deps.publisher,
            cause,
            FinalStatus.TIMED_OUT,
            by=SERVICE,
            reason="deadline passed before planning",
        )
        return
    try:
        draft = await _draft(cause.task_id, context, revision, deps)
    except PlanningFailed as exc:
        await finish(deps.ledger, deps.publisher, cause, FinalStatus.FAILED, by=SERVICE, reason=exc.reason)
        return
    problems = plan_problems(draft.plan, deps.tools, context.request.constraints.allowed_tools)
    if problems:
        reason = f"the plan from {draft.author} is not executable: " + "; ".join(problems)
        await finish(deps.ledger, deps.publisher, cause, FinalStatus.FAILED, by=SERVICE, reason=reason)
        return
    event = PlanCreated(
        **caused_by(cause, "plan", iteration, iteration=iteration),
        context=context.after(draft.usage),
        plan=draft.plan,
        planner=draft.author,
        revision_feedback=revision.feedback if revision else None,
        usage=draft.usage,
    )
    await emit_once(deps.ledger, deps.publisher, key, event)


async def _draft(task_id: str, context: TaskContext, revision: Revision | None, deps: PlannerDeps) -> Draft:
    explicit = context.request.plan
    if explicit is not None and revision is None:
        return Draft(explicit, "explicit", Usage())
    return await deps.writer.write(task_id, context, revision)
