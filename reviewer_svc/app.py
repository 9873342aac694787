"""The reviewer's composition root."""

from __future__ import annotations

from faststream import FastStream
from pydantic import JsonValue

from reviewer_svc.deps import SERVICE, ReviewerDeps
from reviewer_svc.judge import RouterJudge
from reviewer_svc.review_execution import review_execution
from schemas import ExecutionCompleted
from toolbox import ToolError, ToolSettings, build_registry, check_result
from troupe.artefacts import SelectedArtefacts
from troupe.consuming import subscribe_events
from troupe.llm.cache import MongoCache
from troupe.llm.config import LLMSettings
from troupe.llm.wiring import create_router
from troupe.policy_store import MongoPolicyStore
from troupe.service import create_runtime, create_worker_app, group_name
from troupe.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastStream:
    runtime = create_runtime(settings)
    llm_settings = LLMSettings()
    cache = MongoCache(runtime.database[llm_settings.cache_collection])
    specs = {spec.name: spec for spec in build_registry(ToolSettings()).specs()}

    def output_ok(tool: str, output: JsonValue) -> bool:
        """Whether a step's output has its tool's declared result form (the offline reviewer asks)."""
        if tool not in specs or not isinstance(output, dict):
            return False
        try:
            check_result(specs[tool], output)
        except ToolError:
            return False
        return True

    artefacts = SelectedArtefacts(runtime.database, settings.artefact_store)
    deps = ReviewerDeps(
        ledger=runtime.ledger,
        publisher=runtime.publisher,
        judge=RouterJudge(create_router(llm_settings, cache=cache), output_ok),
        artefacts=artefacts,
        excerpt_max_chars=settings.excerpt_max_chars,
        policies=MongoPolicyStore(runtime.database, settings.policy_cache_ttl_s),
    )

    async def on_execution_completed(event: ExecutionCompleted) -> None:
        await review_execution(event, deps)

    subscribe_events(
        runtime.consumers,
        settings.topics.execution_completed,
        group=group_name(settings, SERVICE),
        handler=on_execution_completed,
        expected=(ExecutionCompleted,),
    )
    return create_worker_app(
        runtime,
        on_startup={
            "MongoDB: creating the LLM cache's indexes": cache.ensure_indexes,
            "MongoDB: choosing the artefact store": artefacts.prepare,
        },
    )
