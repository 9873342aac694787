"""Every LLM call counted, cached per tenant and within the deadline, through the four real services.

ai_tool steps ask the scripted LLM (AI_TOOL_MODEL, which reports 100 prompt and 20 answer tokens a call);
the planner's chain starts with a scripted Gemini server that a test can make slow. Tasks carry explicit plans
and one iteration, so the planner's model is asked only when a test means it to be.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from aiokafka import AIOKafkaProducer

from schemas import (
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanStep,
    TaskConstraints,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    encode_event,
)
from tests.e2e.conftest import ApiClient, Pipeline, running_pipeline
from tests.e2e.event_log import EventLog
from tests.e2e.scripted_llm import AI_TOOL_MODEL, PLANNER_MODEL, scripted_llm
from tests.e2e.test_pipeline_over_kafka import DEMO
from tests.integration.llm.scripted_servers import Reply, ScriptedServer, gemini_text, scripted_server
from troupe.settings import Settings

TOKENS_PER_CALL = 120


@pytest.fixture(scope="module")
async def gemini() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as server:
        yield server


@pytest.fixture(scope="module")
def pipeline(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, gemini: ScriptedServer
) -> Iterator[Pipeline]:
    llm_env = {
        "GEMINI_API_KEY": "scripted",
        "TROUPE_LLM_GEMINI_BASE_URL": gemini.base_url,
        "TROUPE_LLM_PLANNER_CHAIN": f"gemini:gemini-2.5-pro,openai:{PLANNER_MODEL}",
        "TROUPE_LLM_AI_TOOL_CHAIN": f"openai:{AI_TOOL_MODEL}",
        "TROUPE_LLM_CACHE_ENABLED": "true",
        "TROUPE_LLM_RETRY_ATTEMPTS": "1",
    }
    with scripted_llm() as llm, running_pipeline(settings, tmp_path_factory, llm, llm_env) as running:
        yield running


def ai_plan(*prompts: str) -> Plan:
    return Plan(
        steps=[
            PlanStep(id=f"s{i}", tool="ai_tool", args={"prompt": p}, depends_on=[f"s{i - 1}"] if i else [])
            for i, p in enumerate(prompts)
        ]
    )


async def submit(
    producer: AIOKafkaProducer, pipeline: Pipeline, request: TaskRequest, tenant: str = "acme"
) -> str:
    task_id = f"e2e-{uuid.uuid4().hex[:10]}"
    event = TaskSubmitted(task_id=task_id, tenant=tenant, request=request)
    await producer.send_and_wait(pipeline.topics.task_submitted, encode_event(event), key=task_id.encode())
    return task_id


async def finished(events: EventLog, task_id: str) -> TaskFinished:
    await events.wait_for(lambda: bool(events.finished(task_id)), timeout_s=90)
    return events.finished(task_id)[0]


def executions(events: EventLog, task_id: str) -> list[ExecutionCompleted]:
    return [e for e in events.by_task[task_id] if isinstance(e, ExecutionCompleted)]


async def executed(events: EventLog, task_id: str) -> ExecutionCompleted:
    await events.wait_for(lambda: bool(executions(events, task_id)))
    return executions(events, task_id)[0]


async def test_ai_tool_tokens_count_toward_the_budget_and_stop_a_task_that_goes_over_it(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog, api: ApiClient
) -> None:
    # One call (120 tokens) fits in 130; the second cannot fit even a short answer.
    plan = ai_plan(f"first {uuid.uuid4()}", "second", "third")
    limits = TaskConstraints(max_llm_tokens=130, max_iterations=1)
    task_id = await submit(
        producer, pipeline, TaskRequest(description="summarise", constraints=limits, plan=plan)
    )

    outcome = await finished(events, task_id)

    assert outcome.status is FinalStatus.BUDGET_EXHAUSTED
    assert (outcome.reason or "").startswith(
        "the plan's ai_tool steps went over the task's budget: token budget exceeded"
    ), outcome.reason
    execution = await executed(events, task_id)
    assert len(executions(events, task_id)) == 1
    assert execution.usage.llm_calls == 1
    assert execution.usage.tokens_in + execution.usage.tokens_out == TOKENS_PER_CALL
    assert execution.usage.cost_usd > 0  # AI_TOOL_MODEL is in the genai-prices catalogue
    # The task's usage, as the API shows it, includes the ai_tool call; the reviewer spent nothing.
    task = await api.wait_until(task_id, lambda t: t["usage"]["llm_calls"] == 1)
    assert task["status"] == "budget_exhausted"
    assert task["usage"]["tokens_in"] + task["usage"]["tokens_out"] == TOKENS_PER_CALL


async def test_two_tenants_sending_the_same_prompt_do_not_share_a_cache_entry(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog
) -> None:
    plan = ai_plan(f"summarise our figures {uuid.uuid4()}")
    request = TaskRequest(description="summarise", constraints=TaskConstraints(max_iterations=1), plan=plan)
    before = pipeline.llm.calls.get(AI_TOOL_MODEL, 0)

    usage = {}
    for name, tenant in [("acme", "acme"), ("acme again", "acme"), ("globex", "globex")]:
        task_id = await submit(producer, pipeline, request, tenant)
        await finished(events, task_id)
        usage[name] = (await executed(events, task_id)).usage.llm_calls

    assert usage == {"acme": 1, "acme again": 0, "globex": 1}  # the repeat was a cache hit, and free
    assert pipeline.llm.calls[AI_TOOL_MODEL] - before == 2


async def test_a_deadline_cuts_a_slow_fallback_chain(
    pipeline: Pipeline, producer: AIOKafkaProducer, events: EventLog, gemini: ScriptedServer
) -> None:
    gemini.reset()
    gemini.queue(Reply(200, gemini_text("{}").body, delay_s=60))
    before = pipeline.llm.calls.get(PLANNER_MODEL, 0)
    limits = TaskConstraints(max_duration_s=5)

    task_id = await submit(producer, pipeline, TaskRequest(description=DEMO, constraints=limits))
    outcome = await finished(events, task_id)

    assert outcome.status is FinalStatus.TIMED_OUT
    assert (outcome.reason or "").startswith(
        "no plan: the task's deadline cut the planner chain: gemini:gemini-2.5-pro: no answer within"
    ), outcome.reason
    assert len(gemini.requests) == 1
    assert pipeline.llm.calls.get(PLANNER_MODEL, 0) == before  # the fallback was never asked
