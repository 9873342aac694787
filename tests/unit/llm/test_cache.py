from __future__ import annotations

from datetime import UTC, datetime, timedelta

from troupe.llm.cache import CachedAnswer, InMemoryCache, cache_key
from troupe.llm.config import LLMSettings, parse_chain

ANSWER = CachedAnswer(text="{}", provider="gemini", model="gemini-2.5-pro", tokens_in=1, tokens_out=2)
CHAIN = parse_chain("gemini:gemini-2.5-pro,openai:gpt-4o")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_an_entry_is_served_until_its_ttl_runs_out() -> None:
    clock = Clock()
    cache = InMemoryCache(clock)
    await cache.put("k", ANSWER, ttl_s=60)
    clock.now += timedelta(seconds=59)
    assert await cache.get("k") == ANSWER
    clock.now += timedelta(seconds=1)
    assert await cache.get("k") is None


def test_the_key_changes_with_tenant_role_chain_prompt_and_schema() -> None:
    base = cache_key("acme", "planner", CHAIN, [("user", "hi")], {"type": "object"})
    assert base == cache_key("acme", "planner", CHAIN, [("user", "hi")], {"type": "object"})
    assert base != cache_key("globex", "planner", CHAIN, [("user", "hi")], {"type": "object"})
    assert base != cache_key("acme", "reviewer", CHAIN, [("user", "hi")], {"type": "object"})
    assert base != cache_key("acme", "planner", CHAIN[:1], [("user", "hi")], {"type": "object"})
    assert base != cache_key("acme", "planner", CHAIN, [("user", "hi!")], {"type": "object"})
    assert base != cache_key("acme", "planner", CHAIN, [("user", "hi")], None)


def test_entries_live_an_hour_unless_configured_otherwise() -> None:
    assert LLMSettings(_env_file=None).cache_ttl_s == 3600
    assert LLMSettings(_env_file=None, cache_ttl_s=60).cache_ttl_s == 60
