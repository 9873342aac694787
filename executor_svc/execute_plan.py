"""On plan created: run the steps, report each one, then publish all results once."""

from __future__ import annotations

import asyncio

from executor_svc.awaiting_approval import hold_for_approval
from executor_svc.deps import SERVICE, ExecutorDeps
from executor_svc.plan_check import forged_plan, plan_refusal
from executor_svc.result_size import keep_large_outputs
from executor_svc.running_tasks import TaskStopped
from executor_svc.step_runner import run_steps
from schemas import (
    ExecutionCompleted,
    FinalStatus,
    PlanCreated,
    PlanStep,
    StepPhase,
    StepProgressed,
    StepResult,
    TaskSubmitted,
    Usage,
    utc_now,
)
from schemas.policy import TenantPolicy
from troupe.boundary import owner_key, refuse
from troupe.ledger import stage_key
from troupe.llm.task_llm import TaskLLM
from troupe.logs import get_logger
from troupe.metrics import record_event_refused
from troupe.stages import caused_by, emit_once, finish, look_up, replay

__all__ = ["execute_plan", "run_approved_plan"]

log = get_logger(__name__)


async def execute_plan(event: PlanCreated, deps: ExecutorDeps) -> None:
    policy = await _may_run(event, deps)
    if policy is None or await hold_for_approval(event, policy, deps):
        return
    await _run(event, deps, policy)


async def run_approved_plan(event: PlanCreated, deps: ExecutorDeps) -> None:
    """The plan the recorded decision approved (the caller checked it names this plan's hash)."""
    if (policy := await _may_run(event, deps)) is not None:
        await _run(event, deps, policy)


async def _may_run(event: PlanCreated, deps: ExecutorDeps) -> TenantPolicy | None:
    """The policy of the task owner's tenant when the plan may go on; None when it was handled here
    (replayed or ended)."""
    key = stage_key("execute", event.task_id, event.iteration)
    owner, planned, recorded = await asyncio.gather(
        deps.ledger.find(owner_key(event.task_id)),
        deps.ledger.find(stage_key("plan", event.task_id, event.iteration)),
        look_up(deps.ledger, event.task_id, key),
    )
    if (forged := forged_plan(event, owner, planned)) is not None:
        refuse(SERVICE, event, forged)  # not the task's to end: its own plan may still come
    assert isinstance(owner, TaskSubmitted)  # owner keys hold submissions only
    if recorded.anything:
        await replay(deps.publisher, recorded)
        return None
    policy = await deps.policies.get(owner.tenant)
    if (refusal := plan_refusal(event, owner, deps.tools, policy)) is not None:
        log.warning("plan.refused", task_id=event.task_id, iteration=event.iteration, reason=refusal)
        record_event_refused(SERVICE, event.type)
        await finish(deps.ledger, deps.publisher, event, FinalStatus.FAILED, by=SERVICE, reason=refusal)
        return None
    return policy


async def _run(event: PlanCreated, deps: ExecutorDeps, policy: TenantPolicy) -> None:
    key = stage_key("execute", event.task_id, event.iteration)
    remaining_s = (event.context.deadline - utc_now()).total_seconds()
    if remaining_s <= 0:
        await finish(
            deps.ledger,
            deps.publisher,
            event,
            FinalStatus.TIMED_OUT,
            by=SERVICE,
            reason="deadline passed before execution",
        )
        return
    done_count = 0
    progress: list[asyncio.Task[None]] = []

    async def report(step: PlanStep, result: StepResult | None) -> None:
        nonlocal done_count
        done_count += result is not None
        # Sent alongside the steps rather than before them: a step does not wait for the broker to confirm
        # its progress. Every confirmation is awaited below, before the stage records its output.
        progress.append(
            asyncio.create_task(deps.publisher.publish(_progress(event, step, result, done_count)))
        )

    llm = _task_llm(event, deps)
    tools = deps.tools_for(event, policy, llm.complete if llm else None)
    work = run_steps(event.plan, tools, report, deps.max_parallel_steps)
    try:
        try:
            results = await deps.running.run(event.task_id, work, remaining_s)
        finally:
            await asyncio.gather(*progress)
    except TaskStopped:
        return  # cancelled on request: the planner records the outcome
    except TimeoutError:
        reason = (
            f"deadline passed during execution ({event.context.request.constraints.max_duration_s} s allowed)"
        )
        await finish(deps.ledger, deps.publisher, event, FinalStatus.TIMED_OUT, by=SERVICE, reason=reason)
        return
    usage = llm.usage if llm else Usage()
    completed = ExecutionCompleted(
        **caused_by(event, "execute", event.iteration),
        context=event.context.after(usage),
        plan=event.plan,
        results=results,
        usage=usage,
    )
    completed = await keep_large_outputs(
        completed, deps.artefacts, deps.artefact_threshold_bytes, deps.max_event_bytes
    )
    if llm is not None and llm.over_budget is not None:
        # Ended before the results go out, so the reviewer finds the task over and spends nothing more;
        # the results still go out, carrying what the ai_tool steps spent into the task's usage.
        reason = f"the plan's ai_tool steps went over the task's budget: {llm.over_budget}"
        await finish(
            deps.ledger, deps.publisher, event, FinalStatus.BUDGET_EXHAUSTED, by=SERVICE, reason=reason
        )
    await emit_once(deps.ledger, deps.publisher, key, completed)


def _task_llm(event: PlanCreated, deps: ExecutorDeps) -> TaskLLM | None:
    if deps.router is None:
        return None
    return TaskLLM(deps.router, task_id=event.task_id, tenant=event.tenant, context=event.context)


def _progress(event: PlanCreated, step: PlanStep, result: StepResult | None, done: int) -> StepProgressed:
    phase = StepPhase.STARTED if result is None else StepPhase.FINISHED
    return StepProgressed(
        **caused_by(event, "step", event.iteration, step.id, phase.value),
        step_id=step.id,
        tool=step.tool,
        phase=phase,
        status=result.status if result else None,
        output_summary=result.output_summary if result else "",
        error=result.error if result else None,
        duration_ms=result.duration_ms if result else 0,
        steps_total=len(event.plan.steps),
        steps_done=done,
    )
