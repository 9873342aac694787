"""Tenant policy in the planner and the executor: each refuses what the stored policy forbids, saying which
rule; an LLM's invalid plan gets one re-plan with the findings; the executor hands the egress allowlist on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from executor_svc.execute_plan import execute_plan
from planner_svc.plan_task import plan_task
from planner_svc.plan_writer import Draft, FunctionPlanWriter
from planner_svc.revise_plan import revise_plan
from reviewer_svc.judge import Judgement
from reviewer_svc.review_execution import review_execution
from schemas import (
    FinalStatus,
    Finding,
    Plan,
    PlanCreated,
    PlanStep,
    ReviewCompleted,
    StepResult,
    TaskContext,
    TaskFinished,
    Usage,
    Verdict,
)
from schemas.policy import TenantPolicy
from tests.unit.pipeline.fakes import context, math_plan, recorded_plan, submitted
from tests.unit.pipeline.test_executor_handlers import FakeTools
from tests.unit.pipeline.test_executor_handlers import deps_with as executor_deps
from tests.unit.pipeline.test_planner_handlers import Scripted, review
from tests.unit.pipeline.test_planner_handlers import deps_with as planner_deps
from tests.unit.pipeline.test_reviewer_handlers import completed as reviewed_execution
from tests.unit.pipeline.test_reviewer_handlers import deps_judging as reviewer_deps
from tests.unit.pipeline.test_reviewer_handlers import judgement
from troupe.boundary import claim_task
from troupe.ledger import stage_key
from troupe.policy_store import InMemoryPolicyStore

FETCH = Plan(steps=[PlanStep(id="get", tool="http_client", args={"url": "https://evil.example.net/x"})])
SHELL = Plan(steps=[PlanStep(id="x", tool="python_exec", args={"code": "print(1)"})])


def with_policy(deps: Any, tenant: str = "acme", **rules: Any) -> Any:
    return replace(deps, policies=InMemoryPolicyStore(TenantPolicy(tenant=tenant, **rules)))


async def test_a_tool_the_tenant_policy_does_not_allow_is_refused_naming_the_rule_after_one_re_plan() -> None:
    writer = Scripted(Draft(SHELL, "m", Usage(llm_calls=1)), Draft(SHELL, "m", Usage(llm_calls=1)))
    deps, published = planner_deps(writer)
    await plan_task(submitted(), with_policy(deps, allowed_tools=["math"]))
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.FAILED
    assert "tenant policy allowed_tools does not allow" in (finished.reason or "")
    assert "after one re-plan" in (finished.reason or "")
    assert len(writer.revisions) == 2


async def test_an_invalid_llm_plan_is_re_planned_once_with_the_findings_and_the_task_shows_them() -> None:
    writer = Scripted(Draft(FETCH, "m", Usage(llm_calls=1)), Draft(math_plan("1+1"), "m", Usage(llm_calls=1)))
    deps, published = planner_deps(writer)
    await plan_task(submitted(), with_policy(deps, egress_hosts=["api.example.com"]))
    [plan] = published.of_type(PlanCreated)
    assert plan.plan == math_plan("1+1")
    first, again = writer.revisions
    assert first is None and again is not None and again.previous_plan == FETCH
    assert "tenant policy egress_hosts does not allow" in again.feedback
    assert "re-planned once" in (plan.revision_feedback or "")
    assert "egress_hosts" in (plan.revision_feedback or "")
    assert plan.usage.llm_calls == 2 and plan.context.spent.llm_calls == 2


async def test_a_redelivered_submission_re_plans_from_the_recorded_draft_without_drafting_anew() -> None:
    writer = Scripted(Draft(math_plan("2"), "m", Usage()))
    deps, published = planner_deps(writer)
    deps = with_policy(deps, allowed_tools=["math"])
    # A previous delivery claimed the task and drafted SHELL, then died before the re-plan ended.
    await claim_task(deps.ledger, submitted(), by="planner")
    await deps.ledger.record_once(
        stage_key("draft", "t-1", 1),
        PlanCreated(task_id="t-1", tenant="acme", context=context(), plan=SHELL, planner="m"),
    )
    await plan_task(submitted(), deps)
    [plan] = published.of_type(PlanCreated)
    assert plan.plan == math_plan("2")
    [only] = writer.revisions
    assert only is not None and only.previous_plan == SHELL


async def test_an_explicit_plan_that_breaks_policy_fails_at_once() -> None:
    writer = Scripted()
    deps, published = planner_deps(writer)
    await plan_task(submitted(plan=SHELL), with_policy(deps, allowed_tools=["math"]))
    [finished] = published.of_type(TaskFinished)
    assert "tenant policy allowed_tools" in (finished.reason or "") and "re-plan" not in (
        finished.reason or ""
    )
    assert writer.revisions == []


async def test_the_policy_narrows_what_the_writer_is_shown_but_not_what_is_published() -> None:
    seen: list[Any] = []
    writer = Scripted(Draft(math_plan("1"), "m", Usage()))
    deps, published = planner_deps(writer)

    async def remember(context: Any, revision: Any) -> Draft:
        seen.append(context.request.constraints)
        return await writer(context, revision)

    deps = replace(
        with_policy(deps, allowed_tools=["math", "http_client"], max_cost_usd=0.5, max_iterations=2),
        writer=FunctionPlanWriter(remember),
    )
    await plan_task(submitted(allowed_tools=["math", "python_exec"]), deps)
    [constraints] = seen
    assert (constraints.allowed_tools, constraints.max_cost_usd, constraints.max_iterations) == (
        ["math"],
        0.5,
        2,
    )
    [plan] = published.of_type(PlanCreated)
    assert plan.context.request.constraints.allowed_tools == ["math", "python_exec"]


async def test_a_task_naming_no_tools_gets_the_policy_default_allowed_tools() -> None:
    deps, published = planner_deps(Scripted(*[Draft(SHELL, "m", Usage())] * 2))
    await plan_task(submitted(), with_policy(deps, default_allowed_tools=["math"]))
    assert "tenant policy default_allowed_tools does not allow" in (
        published.of_type(TaskFinished)[0].reason or ""
    )


async def test_a_plan_over_the_policy_step_limit_is_refused() -> None:
    deps, published = planner_deps(Scripted(*[Draft(math_plan("1", "2", "3"), "m", Usage())] * 2))
    await plan_task(submitted(), with_policy(deps, max_steps_per_plan=2))
    assert "max_steps_per_plan allows 2" in (published.of_type(TaskFinished)[0].reason or "")


async def test_a_revision_past_the_policy_iteration_limit_ends_the_task_budget_exhausted() -> None:
    writer = Scripted(Draft(math_plan("2"), "m", Usage()))
    deps, published = planner_deps(writer)
    event: ReviewCompleted = review(Verdict.REVISE, iteration=1, max_iterations=3)
    await deps.ledger.record_once(stage_key("review", "t-1", 1), event)
    await revise_plan(event, with_policy(deps, tenant=event.tenant, max_iterations=1))
    [finished] = published.events
    assert isinstance(finished, TaskFinished) and finished.status is FinalStatus.BUDGET_EXHAUSTED
    assert "tenant policy max_iterations allows 1" in (finished.reason or "")
    assert writer.revisions == []


async def test_a_recorded_plan_that_breaks_the_tenant_policy_is_refused_by_the_executor() -> None:
    """The attack: a plan.created the ledger holds (a planner that skipped the gate, or a policy tightened
    after planning) that uses a tool the tenant's policy forbids. The executor reads the policy itself."""
    tools = FakeTools()
    deps, published = executor_deps(tools)
    deps = with_policy(deps, allowed_tools=["math"])
    await execute_plan(await recorded_plan(deps.ledger, SHELL), deps)
    assert tools.calls == []
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.FAILED
    assert "tenant policy allowed_tools does not allow" in (finished.reason or "")


async def test_the_executor_hands_the_tenant_egress_allowlist_to_the_tools() -> None:
    tools = FakeTools()
    deps, _ = executor_deps(tools)
    handed: list[TenantPolicy] = []

    def tools_for(event: PlanCreated, policy: TenantPolicy, complete: object) -> FakeTools:
        handed.append(policy)
        return tools

    deps = replace(with_policy(deps, egress_hosts=["*.example.com"]), tools_for=tools_for)
    await execute_plan(await recorded_plan(deps.ledger, math_plan("1")), deps)
    assert [p.egress_hosts for p in handed] == [["*.example.com"]]


class ContextJudge:
    """A judge that remembers the context it was asked under."""

    def __init__(self) -> None:
        self.contexts: list[TaskContext] = []

    async def review(
        self,
        task_id: str,
        context: TaskContext,
        plan: Plan,
        results: Sequence[StepResult],
        findings: Sequence[Finding] = (),
        *,
        tenant: str,
    ) -> Judgement:
        self.contexts.append(context)
        return judgement(Verdict.APPROVED, {"value": 2})


async def test_the_review_budget_is_capped_by_the_policy_but_the_published_context_is_the_task_own() -> None:
    deps, published, _ = reviewer_deps()
    judge = ContextJudge()
    deps = replace(with_policy(deps, tenant="default", max_cost_usd=0.25), judge=judge)
    await review_execution(reviewed_execution(1), deps)
    [seen] = judge.contexts
    assert seen.request.constraints.max_cost_usd == 0.25
    [review_event] = published.of_type(ReviewCompleted)
    assert review_event.context.request.constraints.max_cost_usd is None
