"""Every LLM provider failing: each task fails saying why after the configured retries, none is left running,
the offline mode does not quietly stand in, and tasks flow again once a provider is back.

The pipeline asks a Gemini-wire server first and an OpenAI-wire server second, through the real
`google-genai` and `openai` clients. Gemini answers 500 and 503 (retried on the same provider), OpenAI 429
(not retried: the next link at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from schemas import FinalStatus, PlanCreated
from tests.e2e.conftest import ApiClient, Pipeline, running_pipeline
from tests.e2e.event_log import EventLog, event_log
from tests.e2e.scripted_llm import PLANNER_MODEL, REVIEWER_MODEL, scripted_llm
from tests.e2e.test_pipeline_over_kafka import DEMO
from tests.integration.llm.scripted_servers import ScriptedServer, gemini_error, scripted_server
from troupe.settings import Settings

RETRIES = 3
GEMINI_PLANNER, GEMINI_REVIEWER = "gemini-2.5-pro", "gemini-2.5-flash"
RUNNING = ("submitted", "planning", "executing", "reviewing")


@pytest.fixture(scope="module")
async def gemini() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as server:
        yield server


@pytest.fixture(scope="module")
def outage(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, gemini: ScriptedServer
) -> Iterator[Pipeline]:
    llm_env = {
        "GEMINI_API_KEY": "scripted",
        "TROUPE_LLM_GEMINI_BASE_URL": gemini.base_url,
        "TROUPE_LLM_PLANNER_CHAIN": f"gemini:{GEMINI_PLANNER},openai:{PLANNER_MODEL}",
        "TROUPE_LLM_REVIEWER_CHAIN": f"gemini:{GEMINI_REVIEWER},openai:{REVIEWER_MODEL}",
        # The default: offline is appended to every chain, and must still not rescue a failing one.
        "TROUPE_LLM_OFFLINE_FALLBACK": "true",
        "TROUPE_LLM_RETRY_ATTEMPTS": str(RETRIES),
        "TROUPE_LLM_RETRY_INITIAL_S": "0.05",
        "TROUPE_LLM_RETRY_MAX_S": "0.1",
        # Every call reaches the servers, so they can be counted (the breaker has its own tests).
        "TROUPE_LLM_BREAKER_FAILURES": "1000",
    }
    with scripted_llm() as llm, running_pipeline(settings, tmp_path_factory, llm, llm_env) as running:
        yield running


@pytest.fixture
async def admin(outage: Pipeline) -> AsyncIterator[ApiClient]:
    headers = {"Authorization": f"Bearer {outage.admin_key}"}
    async with httpx.AsyncClient(base_url=outage.gateway_url, headers=headers) as http:
        yield ApiClient(http)


@pytest.fixture
async def events(outage: Pipeline) -> AsyncIterator[EventLog]:
    async with event_log(outage.settings.kafka_bootstrap_servers, outage.topics) as log:
        yield log


async def submit(api: ApiClient, body: dict[str, Any]) -> str:
    answer = await api.http.post("/tasks", json=body)
    assert answer.status_code == 202, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


async def test_with_every_provider_failing_each_task_fails_saying_why_and_tasks_flow_once_one_recovers(
    outage: Pipeline, gemini: ScriptedServer, admin: ApiClient, events: EventLog
) -> None:
    outages = [(500, "INTERNAL"), (503, "UNAVAILABLE")] * 100
    gemini.queue(*[gemini_error(code, status) for code, status in outages])
    outage.llm.fail_with = 429
    # Two task forms the offline planner knows, and an explicit plan the offline reviewer would approve: had
    # offline stepped in, all three would succeed.
    planned = [await submit(admin, {"description": f"evaluate {n}*7"}) for n in (6, 8)]
    explicit_plan = {"steps": [{"id": "a", "tool": "math", "args": {"expression": "1+2"}}]}
    reviewed = await submit(admin, {"description": "add one and two", "plan": explicit_plan})

    tasks = await asyncio.gather(*(admin.wait_until_final(t) for t in [*planned, reviewed]))
    for task in tasks:
        assert task["status"] == "failed", task
    for task, role, gemini_model, openai_model in [
        (tasks[0], "planner", GEMINI_PLANNER, PLANNER_MODEL),
        (tasks[1], "planner", GEMINI_PLANNER, PLANNER_MODEL),
        (tasks[2], "reviewer", GEMINI_REVIEWER, REVIEWER_MODEL),
    ]:
        reason = task["error"]
        assert f"no provider answered the {role} call" in reason, reason
        assert f"gemini:{gemini_model}: HTTP 50" in reason, reason
        assert f"openai:{openai_model}: HTTP 429" in reason, reason
        assert "offline: not used once a configured provider has failed" in reason, reason
    # 5xx is retried RETRIES times on Gemini, then OpenAI's 429 is taken at once: one call per task.
    assert len(gemini.requests) == 3 * RETRIES
    assert (outage.llm.calls[PLANNER_MODEL], outage.llm.calls[REVIEWER_MODEL]) == (2, 1)
    # Each ended once, as failed, and nothing of this tenant is left running.
    await events.wait_for(lambda: all(events.finished(t) for t in [*planned, reviewed]))
    for task_id in [*planned, reviewed]:
        [finished] = {f.event_id: f for f in events.finished(task_id)}.values()
        assert finished.status is FinalStatus.FAILED
    running = await admin.http.get("/tasks", params=[("status", s) for s in RUNNING])
    assert running.status_code == 200 and running.json()["items"] == []

    outage.llm.fail_with = None  # OpenAI is back; Gemini is still down
    recovered = await submit(admin, {"description": DEMO})
    task = await admin.wait_until_final(recovered)
    assert task["status"] == "succeeded", task
    assert isinstance(task["result"], dict) and task["result"]["call_sequences"]
    await events.wait_for(lambda: bool(events.finished(recovered)))
    plans = [e for e in events.by_task[recovered] if isinstance(e, PlanCreated)]
    assert plans and {p.planner for p in plans} == {f"openai:{PLANNER_MODEL}"}
