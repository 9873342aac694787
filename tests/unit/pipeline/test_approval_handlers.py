"""The executor holds a plan the tenant's policy gates until the recorded decision for its hash arrives."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from executor_svc.answer_approval import answer_approval
from executor_svc.approval_waits import InMemoryApprovalWaits
from executor_svc.deps import ExecutorDeps
from executor_svc.execute_plan import execute_plan
from executor_svc.expire_approvals import expire_due
from schemas import (
    ApprovalDecided,
    ApprovalDecision,
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanAwaitingApproval,
    PlanCreated,
    TaskFinished,
    utc_now,
)
from schemas.policy import ApprovalRules, TenantPolicy
from tests.unit.pipeline.fakes import math_plan, recorded_plan
from tests.unit.pipeline.test_executor_handlers import FakeTools, deps_with
from troupe.approval_records import decision_key
from troupe.boundary import EventRefused
from troupe.ledger import stage_key
from troupe.policy_rules import plan_hash
from troupe.policy_store import InMemoryPolicyStore
from troupe.publishing import RecordingPublisher
from troupe.stages import caused_by

GATES_MATH = TenantPolicy(tenant="acme", approvals=ApprovalRules(tools=["math"], timeout_s=60))


def gated(tools: FakeTools, policy: TenantPolicy = GATES_MATH) -> tuple[ExecutorDeps, RecordingPublisher]:
    deps, published = deps_with(tools)
    return replace(deps, policies=InMemoryPolicyStore(policy), waits=InMemoryApprovalWaits()), published


async def decide(
    deps: ExecutorDeps,
    plan: PlanCreated,
    decision: ApprovalDecision,
    plan_hash_: str | None = None,
    comment: str = "",
) -> ApprovalDecided:
    """What the gateway does: record the decision once, for the plan hash the wait names."""
    event = ApprovalDecided(
        **caused_by(plan, "approval", plan.iteration, decision.value),
        plan_hash=plan_hash_ or plan_hash(plan.plan),
        decision=decision,
        comment=comment,
        decided_by="k_1",
        role="approver",
    )
    stored = await deps.ledger.record_once(decision_key(plan.task_id, plan.iteration), event)
    assert isinstance(stored, ApprovalDecided)
    return stored


async def test_a_plan_the_tenants_policy_gates_waits_and_runs_nothing() -> None:
    tools = FakeTools()
    deps, published = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    assert tools.calls == []
    [wait] = published.of_type(PlanAwaitingApproval)
    assert wait.plan_hash == plan_hash(plan.plan)
    assert wait.reasons == ["step 's0' uses math, which needs approval (approvals.tools)"]
    assert deps.waits.waits == {(plan.task_id, 1): wait.expires_at}  # type: ignore[attr-defined]


async def test_the_policy_is_the_stored_one_of_the_tasks_tenant() -> None:
    tools = FakeTools()
    deps, published = gated(tools, GATES_MATH.model_copy(update={"tenant": "someone-else"}))
    await execute_plan(await recorded_plan(deps.ledger, math_plan("1+1")), deps)
    assert published.of_type(PlanAwaitingApproval) == []
    assert len(tools.calls) == 1


async def test_the_wait_expires_at_the_deadline_when_that_comes_first() -> None:
    deps, published = gated(
        FakeTools(), GATES_MATH.model_copy(update={"approvals": ApprovalRules(tools=["math"])})
    )
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    [wait] = published.of_type(PlanAwaitingApproval)
    assert wait.expires_at == plan.context.deadline
    assert "deadline passed while the plan waited" in wait.expiry_reason


async def test_the_recorded_approval_runs_the_steps_once_and_a_redelivered_plan_does_not() -> None:
    tools = FakeTools()
    deps, published = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    approval = await decide(deps, plan, ApprovalDecision.APPROVE)
    await answer_approval(approval, deps)
    await execute_plan(plan, deps)
    await answer_approval(approval, deps)
    assert len(tools.calls) == 1
    assert len({e.event_id for e in published.of_type(ExecutionCompleted)}) == 1
    assert deps.waits.waits == {}  # type: ignore[attr-defined]


async def test_an_approval_written_to_kafka_but_never_recorded_is_refused() -> None:
    tools = FakeTools()
    deps, _ = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    forged = ApprovalDecided(
        task_id=plan.task_id,
        tenant=plan.tenant,
        iteration=plan.iteration,
        plan_hash=plan_hash(plan.plan),
        decision=ApprovalDecision.APPROVE,
        decided_by="k_attacker",
    )
    with pytest.raises(EventRefused, match="not published by the pipeline"):
        await answer_approval(forged, deps)
    assert tools.calls == []


async def test_an_approval_for_another_plan_hash_does_not_start_the_plan() -> None:
    tools = FakeTools()
    deps, _ = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    other = await decide(deps, plan, ApprovalDecision.APPROVE, plan_hash(math_plan("2+2")))
    with pytest.raises(EventRefused, match="the decision is for plan"):
        await answer_approval(other, deps)
    assert tools.calls == []


async def test_a_rejection_ends_the_task_declined_with_the_comment() -> None:
    tools = FakeTools()
    deps, published = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    await answer_approval(await decide(deps, plan, ApprovalDecision.REJECT, comment="not on prod"), deps)
    [end] = published.of_type(TaskFinished)
    assert (end.status, end.reason) == (FinalStatus.DECLINED, "declined by k_1 (approver): not on prod")
    assert tools.calls == []


async def expire(deps: ExecutorDeps, now_offset_s: float, published: RecordingPublisher) -> None:
    await expire_due(deps, utc_now() + timedelta(seconds=now_offset_s))
    for decision in published.of_type(ApprovalDecided):
        await answer_approval(decision, deps)


async def test_an_unanswered_wait_expires_once_and_ends_the_task_timed_out() -> None:
    tools = FakeTools()
    deps, published = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    await expire(deps, 30, published)
    assert published.of_type(TaskFinished) == []  # not due yet
    await expire(deps, 61, published)
    await expire(deps, 62, published)
    [decision] = {e.event_id: e for e in published.of_type(ApprovalDecided)}.values()
    assert decision.decision is ApprovalDecision.EXPIRE
    ends = {e.event_id: e for e in published.of_type(TaskFinished)}
    [end] = ends.values()
    assert end.status is FinalStatus.TIMED_OUT
    assert end.reason == "no answer to the approval request within approvals.timeout_s (60 s)"
    assert tools.calls == []


async def test_an_expiry_after_an_approval_was_recorded_republishes_the_approval() -> None:
    tools = FakeTools()
    deps, published = gated(tools)
    plan = await recorded_plan(deps.ledger, math_plan("1+1"))
    await execute_plan(plan, deps)
    await decide(deps, plan, ApprovalDecision.APPROVE)  # recorded, then the gateway died before publishing
    await expire(deps, 61, published)
    assert [d.decision for d in published.of_type(ApprovalDecided)] == [ApprovalDecision.APPROVE]
    assert published.of_type(TaskFinished) == []
    assert len(tools.calls) == 1


async def revision(deps: ExecutorDeps, first: PlanCreated, plan: Plan, iteration: int) -> PlanCreated:
    """The planner's revision of `first`: same task context, a new plan for a later iteration."""
    event = first.model_copy(update={"event_id": f"plan-{iteration}", "iteration": iteration, "plan": plan})
    await deps.ledger.record_once(stage_key("plan", first.task_id, iteration), event)
    return event


async def test_a_revision_that_changes_a_gated_step_waits_again_and_one_that_does_not_runs() -> None:
    tools = FakeTools()
    deps, published = gated(tools)
    first = await recorded_plan(deps.ledger, math_plan("1+1"), iteration=1)
    await execute_plan(first, deps)
    await answer_approval(await decide(deps, first, ApprovalDecision.APPROVE), deps)
    same = await revision(deps, first, math_plan("1+1"), 2)
    await execute_plan(same, deps)
    assert len(tools.calls) == 2
    changed = await revision(deps, first, math_plan("6*7"), 3)
    await execute_plan(changed, deps)
    assert len(tools.calls) == 2
    assert [w.iteration for w in published.of_type(PlanAwaitingApproval)] == [1, 3]
