"""The router's decisions (offline, errors, cache failures), with providers made from plain functions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import Plan, TaskRequest
from troupe.llm import (
    AllProvidersFailed,
    Budget,
    DeadlineReached,
    LLMAnswer,
    LLMRequest,
    LLMRouter,
    LLMSettings,
    NoLLMConfigured,
    RateLimited,
    Role,
    ai_tool_completer,
    plan_task,
)
from troupe.llm.cache import CachedAnswer, cache_key
from troupe.llm.config import parse_chain
from troupe.llm.errors import ProviderUnavailable
from troupe.llm.providers import FunctionProvider, ProviderReply, ProviderRequest

PLAN_JSON = '{"steps": [{"id": "s1", "tool": "math", "args": {"expression": "1+1"}}]}'


def settings(**values: object) -> LLMSettings:
    base: dict[str, object] = {"planner_chain": "openai:gpt-4o", "retry_initial_s": 0, "retry_max_s": 0}
    return LLMSettings(_env_file=None, **{**base, **values})  # type: ignore[arg-type]


def provider(*outcomes: str | Exception) -> FunctionProvider:
    queue = list(outcomes)

    async def answer(request: ProviderRequest) -> ProviderReply:
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return ProviderReply(text=outcome, tokens_in=10, tokens_out=5, model=request.model)

    return FunctionProvider("openai", answer)


class RecordingCache:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.stored: dict[str, CachedAnswer] = {}

    async def get(self, key: str) -> CachedAnswer | None:
        if self.fail:
            raise ConnectionError("database is away")
        return self.stored.get(key)

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        if self.fail:
            raise ConnectionError("database is away")
        self.stored[key] = answer


def offline_plan_for(description: str) -> Callable[[], Plan]:
    from troupe.llm import offline_plan

    return lambda: offline_plan(TaskRequest(description=description))


async def test_with_nothing_configured_the_planner_answers_offline_and_says_so() -> None:
    cache = RecordingCache()
    router = LLMRouter(settings(), {}, cache=cache)
    answer = await plan_task(router, TaskRequest(description="evaluate 3*7"), [])
    assert answer.offline and answer.answered_by == "offline"
    assert not answer.fallback  # skipping unconfigured providers is configuration, not failure
    assert answer.parsed is not None and answer.parsed.steps[0].args == {"expression": "3*7"}
    assert answer.parsed.rationale.startswith("[offline planner]")
    assert cache.stored == {}  # offline answers are free and not cached


async def test_with_nothing_configured_and_no_offline_mode_the_reason_says_how_to_configure() -> None:
    router = LLMRouter(settings(), {})
    with pytest.raises(NoLLMConfigured) as refused:
        await router.complete(LLMRequest(role=Role.AI_TOOL, prompt="hello"))
    assert refused.value.reason.startswith("no LLM is configured for the ai_tool role")
    assert "OPENAI_API_KEY" in refused.value.reason


async def test_a_failing_provider_is_not_quietly_replaced_by_offline() -> None:
    """Offline is appended to every chain for when nothing is configured; a configured model that fails is an
    outage to report, even for a task form the offline planner knows."""
    router = LLMRouter(settings(), {"openai": provider(RateLimited("HTTP 429"))})
    with pytest.raises(AllProvidersFailed) as failed:
        await router.complete(
            LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan, offline=offline_plan_for("evaluate 1+1"))
        )
    assert [str(a) for a in failed.value.attempts] == [
        "openai:gpt-4o: HTTP 429",
        "offline: not used once a configured provider has failed (name offline in the role's chain to allow that)",
    ]
    assert failed.value.retryable


async def test_a_chain_that_names_offline_falls_back_to_it_when_the_task_form_is_known() -> None:
    router = LLMRouter(
        settings(planner_chain="openai:gpt-4o,offline"), {"openai": provider(RateLimited("HTTP 429"))}
    )
    answer = await router.complete(
        LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan, offline=offline_plan_for("evaluate 1+1"))
    )
    assert answer.offline and answer.fallback
    assert [str(a) for a in answer.failed_attempts] == ["openai:gpt-4o: HTTP 429"]


async def test_a_failing_provider_and_an_unknown_task_form_report_every_reason() -> None:
    router = LLMRouter(
        settings(planner_chain="openai:gpt-4o,offline"), {"openai": provider(RateLimited("HTTP 429"))}
    )
    with pytest.raises(AllProvidersFailed) as failed:
        await router.complete(
            LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan, offline=offline_plan_for("write a poem"))
        )
    assert [a.provider for a in failed.value.attempts] == ["openai", "offline"]
    assert "offline planner does not recognise this task" in failed.value.reason
    assert failed.value.retryable


async def test_transient_errors_are_retried_with_tenacity_then_answered() -> None:
    fake = provider(ProviderUnavailable("HTTP 503"), ProviderUnavailable("reset"), PLAN_JSON)
    router = LLMRouter(settings(retry_attempts=3), {"openai": fake})
    answer = await router.complete(LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan))
    assert len(fake.requests) == 3
    assert answer.usage.llm_calls == 1 and not answer.fallback


async def test_a_broken_cache_never_costs_the_answer() -> None:
    router = LLMRouter(settings(), {"openai": provider(PLAN_JSON)}, cache=RecordingCache(fail=True))
    answer = await router.complete(LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan))
    assert answer.provider == "openai" and not answer.cache_hit


async def test_a_cached_answer_that_no_longer_fits_the_schema_is_a_miss() -> None:
    cache = RecordingCache()
    s = settings()
    key = cache_key("default", "planner", s.chain(Role.PLANNER), [("user", "p")], Plan.model_json_schema())
    cache.stored[key] = CachedAnswer(text="not a plan", provider="openai", model="gpt-4o")
    fake = provider(PLAN_JSON)
    answer = await LLMRouter(s, {"openai": fake}, cache=cache).complete(
        LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan)
    )
    assert not answer.cache_hit and len(fake.requests) == 1
    assert cache.stored[key].text == PLAN_JSON


async def test_the_ai_tool_completer_asks_the_ai_tool_chain_for_text() -> None:
    fake = provider("a short summary")
    router = LLMRouter(settings(ai_tool_chain=parse_chain("openai:gpt-4o-mini")), {"openai": fake})
    complete = ai_tool_completer(router, task_id="t1")
    assert await complete("summarise this") == "a short summary"
    assert fake.requests[0].model == "gpt-4o-mini"
    assert fake.requests[0].json_schema is None


async def test_tokens_spent_on_answers_that_never_validated_are_reported_with_the_failure() -> None:
    router = LLMRouter(settings(offline_fallback=False), {"openai": provider("nope", "still nope")})
    with pytest.raises(AllProvidersFailed) as failed:
        await router.complete(LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan))
    usage = failed.value.usage
    assert (usage.llm_calls, usage.tokens_in, usage.tokens_out) == (2, 20, 10)
    assert usage.cost_usd == pytest.approx((20 * 2.5 + 10 * 10.0) / 1_000_000)
    assert not failed.value.retryable  # the model cannot produce the schema; retrying later will not help


async def test_the_deadline_caps_each_call_and_cuts_the_rest_of_the_chain() -> None:
    async def slow(request: ProviderRequest) -> ProviderReply:
        await asyncio.sleep(10)
        raise AssertionError("never answers")

    first, second = FunctionProvider("gemini", slow), provider(PLAN_JSON)
    s = settings(planner_chain="gemini:gemini-2.5-pro,openai:gpt-4o", timeout_s=60)
    router = LLMRouter(s, {"gemini": first, "openai": second})
    deadline = datetime.now(UTC) + timedelta(seconds=0.2)

    with pytest.raises(DeadlineReached, match="the task's deadline cut the planner chain") as raised:
        await router.complete(LLMRequest(role=Role.PLANNER, prompt="p", schema=Plan, deadline=deadline))

    assert first.requests[0].timeout_s <= 0.2  # capped by the time left, not the 60 s setting
    assert second.requests == []
    assert [a.provider for a in raised.value.attempts] == ["gemini"]


async def test_a_task_with_a_cost_budget_never_calls_a_model_without_a_price() -> None:
    unpriced, priced = provider("never"), FunctionProvider("gemini", provider("an answer").answer)
    s = settings(ai_tool_chain=parse_chain("openai:scripted-model,gemini:gemini-2.5-flash"))
    router = LLMRouter(s, {"openai": unpriced, "gemini": priced})
    budget = Budget(max_cost_usd=1.0)

    answer: LLMAnswer[Any] = await router.complete(LLMRequest(role=Role.AI_TOOL, prompt="p", budget=budget))

    assert answer.provider == "gemini" and answer.usage.cost_usd > 0
    assert unpriced.requests == []
    assert "no price is known" in answer.failed_attempts[0].reason
