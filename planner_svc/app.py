"""The planner's composition root."""

from __future__ import annotations

from functools import partial

from faststream import FastStream

from planner_svc.cancel_task import cancel_task
from planner_svc.deps import SERVICE, PlannerDeps
from planner_svc.plan_task import plan_task
from planner_svc.plan_writer import RouterPlanWriter
from planner_svc.revise_plan import revise_plan
from schemas import CancelRequested, ReviewCompleted, TaskSubmitted
from toolbox import ToolSettings, build_registry
from troupe.artefacts import SelectedArtefacts
from troupe.consuming import subscribe_events
from troupe.llm.cache import MongoCache
from troupe.llm.config import LLMSettings
from troupe.llm.price_check import unpriced_refusal
from troupe.llm.wiring import create_router
from troupe.policy_store import MongoPolicyStore
from troupe.service import create_runtime, create_worker_app, group_name
from troupe.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastStream:
    runtime = create_runtime(settings)
    llm_settings = LLMSettings()
    cache = MongoCache(runtime.database[llm_settings.cache_collection])
    # The planner only reads the tools' declarations; nothing here runs a tool.
    specs = build_registry(ToolSettings()).specs()
    artefacts = SelectedArtefacts(runtime.database, settings.artefact_store)
    deps = PlannerDeps(
        ledger=runtime.ledger,
        publisher=runtime.publisher,
        writer=RouterPlanWriter(create_router(llm_settings, cache=cache), specs),
        tools={spec.name: spec for spec in specs},
        artefacts=artefacts,
        excerpt_max_chars=settings.excerpt_max_chars,
        policies=MongoPolicyStore(runtime.database, settings.policy_cache_ttl_s),
        refusal=partial(unpriced_refusal, settings=llm_settings),
    )

    async def on_task_submitted(event: TaskSubmitted) -> None:
        await plan_task(event, deps)

    async def on_review_completed(event: ReviewCompleted) -> None:
        await revise_plan(event, deps)

    async def on_cancel_requested(event: CancelRequested) -> None:
        await cancel_task(event, deps)

    topics = settings.topics
    subscribe = partial(subscribe_events, runtime.consumers, group=group_name(settings, SERVICE))
    subscribe(topics.task_submitted, handler=on_task_submitted, expected=(TaskSubmitted,))
    subscribe(topics.review_completed, handler=on_review_completed, expected=(ReviewCompleted,))
    subscribe(topics.cancel_requested, handler=on_cancel_requested, expected=(CancelRequested,))
    return create_worker_app(
        runtime,
        on_startup={
            "MongoDB: creating the LLM cache's indexes": cache.ensure_indexes,
            "MongoDB: choosing the artefact store": artefacts.prepare,
        },
    )
