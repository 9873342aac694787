"""The router's cache on the real MongoDB-wire server (FerretDB locally, which has no TTL indexes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from schemas import Usage
from tests.integration.llm.conftest import RouterFactory
from tests.integration.llm.scripted_servers import ScriptedServer, gemini_text
from troupe.db import Document
from troupe.llm import LLMRequest, LLMSettings, MongoCache, Role, open_mongo_cache
from troupe.llm.cache import CachedAnswer

ANSWER = CachedAnswer(
    text="{}", provider="gemini", model="gemini-2.5-pro", tokens_in=3, tokens_out=4, cost_usd=0.5
)


class Verdict(BaseModel):
    ok: bool


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_a_repeated_request_is_answered_from_mongodb_without_any_http_call(
    make_router: RouterFactory,
    gemini: ScriptedServer,
    openai_api: ScriptedServer,
    database: AsyncDatabase[Document],
) -> None:
    cache = await open_mongo_cache(database, LLMSettings(_env_file=None))
    gemini.queue(gemini_text(json.dumps({"ok": True}), tokens_in=50, tokens_out=5))
    request = LLMRequest(role=Role.REVIEWER, prompt="Is it done?", schema=Verdict, task_id="t-cache")

    first = await make_router(cache=cache).complete(request)
    # A new router (another process, say) with the same chain shares the stored answer.
    again = await make_router(cache=cache).complete(request)

    assert len(gemini.requests) == 1 and openai_api.requests == []
    assert (first.cache_hit, again.cache_hit) == (False, True)
    assert again.parsed == Verdict(ok=True)
    assert again.usage == Usage()
    assert await database["llm_cache"].count_documents({}) == 1


async def test_ttl_index_creation_falls_back_silently_where_the_server_lacks_it(
    database: AsyncDatabase[Document],
) -> None:
    cache = MongoCache(database["llm_cache"])
    has_ttl = await cache.ensure_indexes()
    assert has_ttl == cache.ttl_index
    assert await cache.ensure_indexes() == has_ttl  # repeatable


async def test_an_expired_entry_is_a_miss_and_is_removed_on_read(database: AsyncDatabase[Document]) -> None:
    clock = Clock()
    cache = MongoCache(database["llm_cache"], clock=clock)
    await cache.put("k", ANSWER, ttl_s=60)
    clock.now += timedelta(seconds=59)
    assert await cache.get("k") == ANSWER
    clock.now += timedelta(seconds=2)
    assert await cache.get("k") is None
    assert await database["llm_cache"].count_documents({}) == 0


async def test_putting_the_same_key_again_replaces_the_entry(database: AsyncDatabase[Document]) -> None:
    cache = MongoCache(database["llm_cache"])
    await cache.put("k", ANSWER, ttl_s=60)
    await cache.put("k", ANSWER.model_copy(update={"text": "[]"}), ttl_s=60)
    got = await cache.get("k")
    assert got is not None and got.text == "[]"
    assert await database["llm_cache"].count_documents({}) == 1
