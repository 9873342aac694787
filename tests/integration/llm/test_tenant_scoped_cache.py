"""The LLM cache is scoped to the tenant: the planner, over the real router, scripted server and MongoDB cache."""

from __future__ import annotations

import json

from pymongo.asynchronous.database import AsyncDatabase

from planner_svc.deps import PlannerDeps
from planner_svc.plan_task import plan_task
from planner_svc.plan_writer import RouterPlanWriter
from schemas import PlanCreated, TaskRequest, TaskSubmitted
from tests.integration.llm.conftest import RouterFactory
from tests.integration.llm.scripted_servers import ScriptedServer, gemini_text
from toolbox import ToolSettings, build_registry
from troupe.artefacts import InMemoryArtefacts
from troupe.db import Document
from troupe.ledger import MongoLedger
from troupe.llm import LLMSettings, open_mongo_cache
from troupe.publishing import RecordingPublisher

SPECS = build_registry(ToolSettings(), entry_points=False).specs()
PLAN = {"steps": [{"id": "s1", "tool": "math", "args": {"expression": "6*7"}}]}


async def test_two_tenants_sending_the_same_prompt_do_not_share_a_cache_entry(
    make_router: RouterFactory, gemini: ScriptedServer, database: AsyncDatabase[Document]
) -> None:
    cache = await open_mongo_cache(database, LLMSettings(_env_file=None))
    publisher = RecordingPublisher()
    writer = RouterPlanWriter(make_router(cache=cache), SPECS)
    deps = PlannerDeps(
        MongoLedger(database), publisher, writer, {s.name: s for s in SPECS}, InMemoryArtefacts()
    )
    secret_plan = {**PLAN, "rationale": "acme's confidential reasoning"}
    gemini.queue(gemini_text(json.dumps(secret_plan)), gemini_text(json.dumps(PLAN)))
    request = TaskRequest(description="work out the answer from our private data")

    await plan_task(TaskSubmitted(task_id="t-acme", tenant="acme", request=request), deps)
    await plan_task(TaskSubmitted(task_id="t-globex", tenant="globex", request=request), deps)

    acme, globex = publisher.of_type(PlanCreated)
    assert len(gemini.requests) == 2  # globex's prompt went to the model, not to acme's entry
    assert globex.plan.rationale != "acme's confidential reasoning"
    assert globex.usage.llm_calls == 1 and acme.usage.llm_calls == 1
    assert await database["llm_cache"].count_documents({}) == 2
