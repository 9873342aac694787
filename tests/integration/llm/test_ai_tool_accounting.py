"""ai_tool calls are the task's: the executor over the real router, real OpenAI client, a scripted server and
MongoDB (ledger and LLM cache). Their tokens count in the task's usage and budget, and are cached per tenant."""

from __future__ import annotations

from pathlib import Path

from pymongo.asynchronous.database import AsyncDatabase

from executor_svc.deps import ExecutorDeps
from executor_svc.execute_plan import execute_plan
from executor_svc.toolbox_runner import ToolboxRunner
from schemas import (
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanCreated,
    PlanStep,
    StepStatus,
    TaskConstraints,
    TaskContext,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Usage,
)
from schemas.policy import TenantPolicy
from tests.integration.llm.conftest import RouterFactory
from tests.integration.llm.scripted_servers import ScriptedServer, openai_text
from toolbox import Complete, ToolContext, ToolSettings, build_registry
from troupe.artefacts import InMemoryArtefacts
from troupe.boundary import owner_key
from troupe.db import Document
from troupe.ledger import Ledger, MongoLedger, stage_key
from troupe.llm import LLMRouter, LLMSettings, open_mongo_cache
from troupe.llm.cache import CacheStore
from troupe.publishing import RecordingPublisher

REGISTRY = build_registry(ToolSettings(), entry_points=False)
PLANNER_SPENT = Usage(llm_calls=1, tokens_in=20, tokens_out=10, cost_usd=0.0001)


def ai_steps(*prompts: str) -> Plan:
    steps = [PlanStep(id=f"s{i}", tool="ai_tool", args={"prompt": p}) for i, p in enumerate(prompts)]
    # One after the other, so each call sees what the one before it spent.
    return Plan(
        steps=[s.model_copy(update={"depends_on": [f"s{i - 1}"] if i else []}) for i, s in enumerate(steps)]
    )


async def planned(
    ledger: Ledger, plan: Plan, *, task_id: str, tenant: str = "acme", max_llm_tokens: int | None = None
) -> PlanCreated:
    """A plan.created as the planner would publish it, after a planner call that spent PLANNER_SPENT."""
    request = TaskRequest(description="summarise", constraints=TaskConstraints(max_llm_tokens=max_llm_tokens))
    task = TaskSubmitted(task_id=task_id, tenant=tenant, request=request)
    await ledger.record_once(owner_key(task_id), task)
    context = TaskContext.starting(request, submitted_at=task.occurred_at).after(PLANNER_SPENT)
    event = PlanCreated(
        task_id=task_id, tenant=tenant, iteration=1, context=context, plan=plan, usage=PLANNER_SPENT
    )
    await ledger.record_once(stage_key("plan", task_id, 1), event)
    return event


def executor(ledger: Ledger, router: LLMRouter, tmp_path: Path) -> tuple[ExecutorDeps, RecordingPublisher]:
    def tools_for(event: PlanCreated, policy: TenantPolicy, complete: Complete | None) -> ToolboxRunner:
        return ToolboxRunner(REGISTRY, ToolContext(workspace=tmp_path, complete=complete))

    publisher = RecordingPublisher()
    tools = {spec.name: spec for spec in REGISTRY.specs()}
    return ExecutorDeps(ledger, publisher, tools_for, tools, InMemoryArtefacts(), router=router), publisher


def ai_router(make_router: RouterFactory, cache: CacheStore | None = None) -> LLMRouter:
    return make_router(cache=cache, ai_tool_chain="openai:gpt-4o-mini")


async def test_ai_tool_tokens_count_in_the_task_usage_on_the_events(
    make_router: RouterFactory, openai_api: ScriptedServer, database: AsyncDatabase[Document], tmp_path: Path
) -> None:
    openai_api.queue(openai_text("one", 100, 40, "gpt-4o-mini"), openai_text("two", 60, 20, "gpt-4o-mini"))
    ledger = MongoLedger(database)
    deps, published = executor(ledger, ai_router(make_router), tmp_path)

    await execute_plan(await planned(ledger, ai_steps("first", "second"), task_id="t-usage"), deps)

    [completed] = published.of_type(ExecutionCompleted)
    assert [r.output for r in completed.results] == [{"text": "one"}, {"text": "two"}]
    assert (completed.usage.llm_calls, completed.usage.tokens_in, completed.usage.tokens_out) == (2, 160, 60)
    assert completed.usage.cost_usd > 0
    assert completed.context.spent == PLANNER_SPENT + completed.usage
    assert openai_api.requests[0].body["model"] == "gpt-4o-mini"


async def test_ai_tool_use_over_the_token_budget_stops_the_task_with_the_reason(
    make_router: RouterFactory, openai_api: ScriptedServer, database: AsyncDatabase[Document], tmp_path: Path
) -> None:
    # The planner spent 30 of 250 tokens; the first ai_tool call 210 more, which leaves too few for another.
    openai_api.queue(openai_text("long", 100, 110, "gpt-4o-mini"), openai_text("never", 1, 1, "gpt-4o-mini"))
    ledger = MongoLedger(database)
    deps, published = executor(ledger, ai_router(make_router), tmp_path)
    plan = ai_steps("first", "second", "third")

    await execute_plan(await planned(ledger, plan, task_id="t-budget", max_llm_tokens=250), deps)

    assert len(openai_api.requests) == 1  # the second call was refused before it was made
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.BUDGET_EXHAUSTED
    assert finished.reason is not None
    assert finished.reason.startswith(
        "the plan's ai_tool steps went over the task's budget: token budget exceeded"
    )
    [completed] = published.of_type(ExecutionCompleted)
    assert [r.status for r in completed.results] == [
        StepStatus.SUCCEEDED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
    ]
    assert completed.usage.tokens_in + completed.usage.tokens_out == 210
    # The task ended before its results went out, so the reviewer spends nothing on it.
    assert published.events.index(finished) < published.events.index(completed)


async def test_ai_tool_answers_are_cached_per_tenant(
    make_router: RouterFactory, openai_api: ScriptedServer, database: AsyncDatabase[Document], tmp_path: Path
) -> None:
    cache = await open_mongo_cache(database, LLMSettings(_env_file=None))
    openai_api.queue(
        openai_text("for acme", 10, 5, "gpt-4o-mini"), openai_text("for globex", 10, 5, "gpt-4o-mini")
    )
    ledger = MongoLedger(database)
    deps, published = executor(ledger, ai_router(make_router, cache), tmp_path)
    same = ai_steps("summarise the quarterly figures")

    await execute_plan(await planned(ledger, same, task_id="t-a1", tenant="acme"), deps)
    await execute_plan(await planned(ledger, same, task_id="t-a2", tenant="acme"), deps)
    await execute_plan(await planned(ledger, same, task_id="t-g1", tenant="globex"), deps)

    a1, a2, g1 = published.of_type(ExecutionCompleted)
    assert len(openai_api.requests) == 2
    assert a2.results[0].output == {"text": "for acme"} and a2.usage == Usage()  # a hit costs nothing
    assert g1.results[0].output == {"text": "for globex"} and g1.usage.llm_calls == 1
    assert a1.usage.llm_calls == 1
