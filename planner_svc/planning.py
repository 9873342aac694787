"""The planning step shared by first plans and revisions: get a draft, gate it, emit it once.

The gate is the plan rules under the task's constraints plus its tenant's policy, read from the policy store
by the event's tenant. An LLM's draft that fails the gate gets one re-plan with the findings in its prompt;
the first draft is recorded in the ledger before that, so a redelivered input re-plans from the same draft
and never asks for a third. An explicit plan from the request fails at once: nobody can rewrite it.
"""

from __future__ import annotations

from dataclasses import replace

from planner_svc.deps import SERVICE, PlannerDeps
from planner_svc.plan_writer import Draft, PlanningFailed, Revision
from schemas import Envelope, FinalStatus, PlanCreated, TaskContext, Usage
from schemas.policy import TenantPolicy
from troupe.ledger import finished_key, stage_key
from troupe.policy_gate import gate_problems, narrowed
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
    policy = await deps.policies.get(cause.tenant)
    try:
        draft, findings = await _gated_draft(cause, context, iteration, revision, policy, deps, claimed_now)
    except PlanningFailed as exc:
        await finish(deps.ledger, deps.publisher, cause, exc.status, by=SERVICE, reason=exc.reason)
        return
    event = PlanCreated(
        **caused_by(cause, "plan", iteration, iteration=iteration),
        context=context.after(draft.usage),
        plan=draft.plan,
        planner=draft.author,
        revision_feedback=_feedback(revision, findings),
        usage=draft.usage,
    )
    await emit_once(deps.ledger, deps.publisher, key, event)


async def _gated_draft(
    cause: Envelope,
    context: TaskContext,
    iteration: int,
    revision: Revision | None,
    policy: TenantPolicy,
    deps: PlannerDeps,
    claimed_now: bool,
) -> tuple[Draft, str | None]:
    """A draft that passes the gate, and the findings on the first draft when it took a re-plan."""
    # The writer sees the task's limits as the policy narrows them: its tool catalogue and its budget.
    shown = narrowed(context, policy)
    draft_key = stage_key("draft", cause.task_id, iteration)
    first = await _first_draft(cause, shown, revision, draft_key, deps, claimed_now)
    problems = gate_problems(first.plan, deps.tools, context.request.constraints, policy)
    if not problems:
        return first, None
    if first.author == "explicit":
        raise PlanningFailed(_not_executable(first, problems))
    if (kept := await _keep_draft(cause, shown, iteration, first, draft_key, deps)) != first:
        first = kept  # another replica drafted first: re-plan from its draft, as a redelivery would
        problems = gate_problems(first.plan, deps.tools, context.request.constraints, policy)
    findings = _not_executable(first, problems)
    try:
        second = await deps.writer.write(
            cause.task_id, shown.after(first.usage), _replan(revision, first, findings), tenant=cause.tenant
        )
    except PlanningFailed as exc:
        raise PlanningFailed(f"{findings}; then {exc.reason}", first.usage + exc.usage) from exc
    usage = first.usage + second.usage
    problems = gate_problems(second.plan, deps.tools, context.request.constraints, policy)
    if problems:
        raise PlanningFailed(f"{findings}; after one re-plan, {_not_executable(second, problems)}", usage)
    return replace(second, usage=usage), findings


async def _first_draft(
    cause: Envelope,
    shown: TaskContext,
    revision: Revision | None,
    draft_key: str,
    deps: PlannerDeps,
    claimed_now: bool,
) -> Draft:
    """The iteration's first draft: the refused one recorded, when a redelivered input already got it (never
    when this delivery claimed the task: drafts come after the claim)."""
    recorded = None if claimed_now else await deps.ledger.find(draft_key)
    if isinstance(recorded, PlanCreated):
        return Draft(recorded.plan, recorded.planner, recorded.usage)
    explicit = shown.request.plan
    if explicit is not None and revision is None:
        return Draft(explicit, "explicit", Usage())
    return await deps.writer.write(cause.task_id, shown, revision, tenant=cause.tenant)


async def _keep_draft(
    cause: Envelope, shown: TaskContext, iteration: int, draft: Draft, draft_key: str, deps: PlannerDeps
) -> Draft:
    """Record the refused draft before re-planning, so a redelivery re-plans from it instead of drafting
    anew. Recorded, never published: the executor runs only what is recorded under the "plan" key."""
    kept = PlanCreated(
        **caused_by(cause, "draft", iteration, iteration=iteration),
        context=shown,
        plan=draft.plan,
        planner=draft.author,
        usage=draft.usage,
    )
    stored = await deps.ledger.record_once(draft_key, kept)
    assert isinstance(stored, PlanCreated)  # draft keys hold drafts only
    return Draft(stored.plan, stored.planner, stored.usage)


def _not_executable(draft: Draft, problems: list[str]) -> str:
    return f"the plan from {draft.author} is not executable: " + "; ".join(problems)


def _replan(revision: Revision | None, first: Draft, findings: str) -> Revision:
    ask = f"Your plan was refused by the validator: {findings}. Write a plan without these problems."
    if revision is None:
        return Revision(ask, first.plan, ())
    return Revision(f"{revision.feedback}\n\n{ask}", first.plan, revision.previous_results)


def _feedback(revision: Revision | None, findings: str | None) -> str | None:
    parts = [revision.feedback] if revision else []
    if findings:
        parts.append(f"re-planned once: {findings}")
    return "\n\n".join(parts) or None
