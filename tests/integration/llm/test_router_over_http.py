"""The router drives the real `openai` and `google-genai` clients against scripted servers by base URL."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

from schemas import Plan, TaskConstraints, TaskRequest, Usage
from tests.integration.llm.conftest import Clock, RouterFactory
from tests.integration.llm.scripted_servers import (
    Reply,
    ScriptedServer,
    gemini_error,
    gemini_text,
    openai_error,
    openai_text,
)
from troupe.llm import (
    AllProvidersFailed,
    Budget,
    BudgetExceeded,
    InMemoryCache,
    LLMRequest,
    Role,
    plan_task,
)
from troupe.llm.pricing import Price


class Answer(BaseModel):
    city: str
    population: int


GOOD = json.dumps({"city": "Lyon", "population": 522000})


def ask(prompt: str = "Which city?", **kwargs: Any) -> LLMRequest[Answer]:
    return LLMRequest(role=Role.PLANNER, prompt=prompt, schema=Answer, **kwargs)


async def test_gemini_answers_in_its_native_json_schema_mode(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(gemini_text(GOOD, tokens_in=12, tokens_out=7))
    answer = await make_router().complete(ask())

    assert answer.parsed == Answer(city="Lyon", population=522000)
    assert (answer.provider, answer.model, answer.fallback, answer.cache_hit) == (
        "gemini",
        "gemini-2.5-pro",
        False,
        False,
    )
    assert (answer.usage.tokens_in, answer.usage.tokens_out, answer.usage.llm_calls) == (12, 7, 1)
    [sent] = gemini.requests
    assert sent.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    assert sent.body["generationConfig"]["responseMimeType"] == "application/json"
    assert sent.body["generationConfig"]["responseJsonSchema"] == Answer.model_json_schema()
    assert openai_api.requests == []


async def test_openai_answers_with_a_json_schema_response_format(
    make_router: RouterFactory, openai_api: ScriptedServer
) -> None:
    openai_api.queue(openai_text(GOOD))
    router = make_router(planner_chain="openai:gpt-4o")
    answer = await router.complete(ask(system="Be brief."))

    assert answer.parsed == Answer(city="Lyon", population=522000)
    [sent] = openai_api.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "gpt-4o"
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Which city?"},
    ]
    assert sent.body["response_format"]["type"] == "json_schema"
    assert sent.body["response_format"]["json_schema"]["schema"] == Answer.model_json_schema()
    assert sent.body["max_completion_tokens"] == 4096


async def test_an_openai_compatible_endpoint_is_reached_by_base_url(
    make_router: RouterFactory, openai_api: ScriptedServer
) -> None:
    openai_api.queue(openai_text(GOOD, model="llama3.1"))
    router = make_router(planner_chain="ollama:llama3.1", ollama_base_url=f"{openai_api.base_url}/v1")
    answer = await router.complete(ask())

    assert (answer.provider, answer.model) == ("ollama", "llama3.1")
    [sent] = openai_api.requests
    assert sent.body["model"] == "llama3.1"
    assert "max_tokens" in sent.body and "max_completion_tokens" not in sent.body
    assert answer.usage.cost_usd == 0.0  # not in the price table: local models cost nothing


async def test_429_falls_back_to_the_next_provider_without_retrying(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(gemini_error(429, "RESOURCE_EXHAUSTED", "quota exceeded"))
    openai_api.queue(openai_text(GOOD))
    answer = await make_router().complete(ask())

    assert (answer.provider, answer.fallback) == ("openai", True)
    assert len(gemini.requests) == 1
    assert len(openai_api.requests) == 1
    [failed] = answer.failed_attempts
    assert failed.provider == "gemini" and "429" in failed.reason


async def test_500_is_retried_on_the_same_provider_until_it_answers(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    openai_api.queue(openai_error(500), openai_error(502), openai_text(GOOD))
    answer = await make_router(planner_chain="openai:gpt-4o,gemini:gemini-2.5-pro").complete(ask())

    assert (answer.provider, answer.fallback) == ("openai", False)
    assert len(openai_api.requests) == 3
    assert gemini.requests == []


async def test_500_on_every_retry_falls_back(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(*[gemini_error(500, "INTERNAL")] * 2)
    openai_api.queue(openai_text(GOOD))
    answer = await make_router(retry_attempts=2).complete(ask())

    assert answer.provider == "openai"
    assert len(gemini.requests) == 2


async def test_malformed_json_gets_one_repair_attempt_that_shows_the_errors(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(
        gemini_text('{"city": "Lyon", "population": "many"', tokens_in=10, tokens_out=4),
        gemini_text(GOOD, tokens_in=30, tokens_out=6),
    )
    answer = await make_router().complete(ask())

    assert answer.parsed == Answer(city="Lyon", population=522000)
    assert (answer.provider, answer.fallback) == ("gemini", False)
    assert (answer.usage.llm_calls, answer.usage.tokens_in, answer.usage.tokens_out) == (2, 40, 10)
    repair = gemini.requests[1].body["contents"]
    assert [c["role"] for c in repair] == ["user", "model", "user"]
    assert repair[1]["parts"][0]["text"].startswith('{"city": "Lyon"')
    assert "does not match the required JSON schema" in repair[2]["parts"][0]["text"]
    assert "Invalid JSON" in repair[2]["parts"][0]["text"]
    assert openai_api.requests == []


async def test_output_still_invalid_after_the_repair_falls_back(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(gemini_text('{"city": 3}'), gemini_text('{"city": "Lyon"}'))
    openai_api.queue(openai_text(GOOD))
    answer = await make_router().complete(ask())

    assert answer.provider == "openai"
    assert len(gemini.requests) == 2
    assert "did not validate after one repair" in answer.failed_attempts[0].reason
    assert "population" in answer.failed_attempts[0].reason


async def test_a_timeout_falls_back_after_the_per_call_timeout(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(Reply(200, gemini_text(GOOD).body, delay_s=5))
    openai_api.queue(openai_text(GOOD))
    started = time.monotonic()
    answer = await make_router(timeout_s=0.5).complete(ask())

    assert answer.provider == "openai"
    assert 0.5 <= time.monotonic() - started < 2.0
    assert len(gemini.requests) == 1
    assert "timed out" in answer.failed_attempts[0].reason or "within" in answer.failed_attempts[0].reason


async def test_a_refusal_falls_back(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    refusal = openai_text("")
    refusal.body["choices"][0]["message"] = {"role": "assistant", "content": None, "refusal": "I can't."}
    openai_api.queue(refusal)
    gemini.queue(gemini_text(GOOD))
    answer = await make_router(planner_chain="openai:gpt-4o,gemini:gemini-2.5-pro").complete(ask())

    assert answer.provider == "gemini"
    assert "refused" in answer.failed_attempts[0].reason


async def test_a_safety_block_from_gemini_falls_back(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    blocked = gemini_text("")
    blocked.body["candidates"][0]["finishReason"] = "SAFETY"
    gemini.queue(blocked)
    openai_api.queue(openai_text(GOOD))
    answer = await make_router().complete(ask())

    assert answer.provider == "openai"
    assert answer.failed_attempts[0].reason == "the answer was blocked: SAFETY"


async def test_a_connection_error_is_retried_then_falls_back(
    make_router: RouterFactory, gemini: ScriptedServer, spans: InMemorySpanExporter
) -> None:
    gemini.queue(gemini_text(GOOD))
    router = make_router(
        planner_chain="openai:gpt-4o,gemini:gemini-2.5-pro",
        openai_base_url="http://127.0.0.1:9/v1",
        retry_attempts=2,
    )
    answer = await router.complete(ask())

    assert answer.provider == "gemini"
    assert answer.failed_attempts[0].reason.startswith("connection error")
    tries = [s for s in spans.get_finished_spans() if s.name == "chat gpt-4o"]
    assert len(tries) == 2
    assert all(s.attributes and s.attributes["error.type"] == "ProviderUnavailable" for s in tries)


async def test_an_open_circuit_skips_a_dead_provider_without_waiting_then_tries_it_again_later(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer, clock: Clock
) -> None:
    router = make_router(timeout_s=0.5, breaker_failures=1, breaker_cooldown_s=30)
    gemini.queue(Reply(200, gemini_text(GOOD).body, delay_s=5))
    openai_api.queue(openai_text(GOOD), openai_text(GOOD))
    await router.complete(ask("first"))
    assert len(gemini.requests) == 1

    started = time.monotonic()
    answer = await router.complete(ask("second"))
    assert time.monotonic() - started < 0.5  # a call to the dead provider alone would take 0.5 s
    assert answer.provider == "openai"
    assert len(gemini.requests) == 1
    assert "circuit open" in answer.failed_attempts[0].reason

    clock.now += 31
    gemini.queue(gemini_text(GOOD))
    answer = await router.complete(ask("third"))
    assert (answer.provider, len(gemini.requests)) == ("gemini", 2)
    assert router.breaker("gemini").state == "closed"


async def test_every_provider_failing_says_why_for_each(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(gemini_error(429, "RESOURCE_EXHAUSTED"))
    openai_api.queue(openai_error(401, "bad key"))
    with pytest.raises(AllProvidersFailed) as failed:
        await make_router(retry_attempts=1).complete(ask())

    reasons = [str(a) for a in failed.value.attempts]
    assert reasons[0].startswith("gemini:gemini-2.5-pro: HTTP 429")
    assert reasons[1].startswith("openai:gpt-4o: HTTP 401")
    assert reasons[2].startswith("offline: the planner role has no offline mode")
    assert failed.value.retryable  # a rate limit passes


async def test_an_identical_request_is_answered_from_the_cache_without_any_call(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    router = make_router(cache=InMemoryCache())
    gemini.queue(gemini_text(GOOD, tokens_in=100, tokens_out=20))
    first = await router.complete(ask())
    again = await router.complete(ask())

    assert len(gemini.requests) + len(openai_api.requests) == 1
    assert again.cache_hit and not first.cache_hit
    assert again.parsed == first.parsed
    assert again.usage == Usage()
    assert (again.provider, again.model) == ("gemini", "gemini-2.5-pro")


async def test_token_and_cost_totals_add_up_in_answers_and_spans(
    make_router: RouterFactory,
    gemini: ScriptedServer,
    openai_api: ScriptedServer,
    spans: InMemorySpanExporter,
) -> None:
    prices = {
        "gemini-2.5-pro": Price(input_per_mtok=1.0, output_per_mtok=10.0),
        "gpt-4o": Price(input_per_mtok=2.0, output_per_mtok=20.0),
    }
    router = make_router(cache=InMemoryCache(), prices=prices)
    gemini.queue(
        gemini_text(GOOD, tokens_in=1_000, tokens_out=100),  # call 1
        gemini_text("not json", tokens_in=2_000, tokens_out=10),  # call 2 ...
        gemini_text(GOOD, tokens_in=3_000, tokens_out=200),  # ... repaired
        gemini_error(429, "RESOURCE_EXHAUSTED"),  # call 3 falls back
    )
    openai_api.queue(openai_text(GOOD, tokens_in=500, tokens_out=50))
    answers = [await router.complete(ask(p, task_id="task-1")) for p in ("a", "b", "c", "a")]

    total = sum((a.usage for a in answers), Usage())
    assert (total.llm_calls, total.tokens_in, total.tokens_out) == (4, 6_500, 360)
    expected_cost = (6_000 * 1.0 + 310 * 10.0 + 500 * 2.0 + 50 * 20.0) / 1_000_000
    assert total.cost_usd == pytest.approx(expected_cost)
    assert [a.cache_hit for a in answers] == [False, False, False, True]
    assert [a.fallback for a in answers] == [False, False, True, False]

    calls = [s for s in spans.get_finished_spans() if s.name == "llm planner"]
    assert len(calls) == 4
    attrs: list[dict[str, Any]] = [dict(s.attributes or {}) for s in calls]
    assert sum(int(a["gen_ai.usage.input_tokens"]) for a in attrs) == 6_500
    assert sum(int(a["gen_ai.usage.output_tokens"]) for a in attrs) == 360
    assert sum(float(a["troupe.llm.cost_usd"]) for a in attrs) == pytest.approx(expected_cost)
    assert [a["troupe.llm.cache_hit"] for a in attrs] == [False, False, False, True]
    assert [a["gen_ai.provider.name"] for a in attrs] == ["gcp.gemini", "gcp.gemini", "openai", "gcp.gemini"]
    assert all(a["gen_ai.operation.name"] == "chat" and a["troupe.task_id"] == "task-1" for a in attrs)
    http_calls = [s for s in spans.get_finished_spans() if s.name.startswith("chat ")]
    assert len(http_calls) == 5  # three Gemini answers, one 429, one OpenAI answer


async def test_a_call_beyond_the_task_budget_fails_before_any_http_call(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    spent = Usage(llm_calls=3, tokens_in=9_990, tokens_out=5)
    with pytest.raises(BudgetExceeded, match="token budget exceeded"):
        await make_router().complete(ask(budget=Budget(max_tokens=10_000, spent=spent)))
    with pytest.raises(BudgetExceeded, match="cost budget exceeded"):
        await make_router().complete(ask(budget=Budget(max_cost_usd=0.01, spent=Usage(cost_usd=0.01))))
    assert gemini.requests == [] and openai_api.requests == []


async def test_the_budget_caps_the_answer_length_asked_for(
    make_router: RouterFactory, gemini: ScriptedServer
) -> None:
    gemini.queue(gemini_text(GOOD))
    await make_router().complete(ask(budget=Budget(max_tokens=1_000)))
    max_tokens = gemini.requests[0].body["generationConfig"]["maxOutputTokens"]
    assert 16 <= max_tokens < 1_000


async def test_the_planner_writes_a_plan_from_the_rendered_prompt(
    make_router: RouterFactory, gemini: ScriptedServer
) -> None:
    plan = {"steps": [{"id": "s1", "tool": "math", "args": {"expression": "2**10"}}], "rationale": "one step"}
    gemini.queue(gemini_text(json.dumps(plan)))
    tools = [
        ("math", "Evaluate an arithmetic expression.", {"type": "object"}),
        ("web_search", "Search.", {}),
    ]
    answer = await plan_task(
        make_router(),
        TaskRequest(
            description="how much is two to the tenth?", constraints=TaskConstraints(allowed_tools=["math"])
        ),
        tools,
        task_id="task-2",
    )

    assert isinstance(answer.parsed, Plan) and answer.parsed.steps[0].tool == "math"
    assert not answer.offline and answer.answered_by == "gemini:gemini-2.5-pro"
    prompt = gemini.requests[0].body["contents"][0]["parts"][0]["text"]
    assert "### math\nEvaluate an arithmetic expression." in prompt
    assert "web_search" not in prompt
    assert prompt.rstrip().endswith("how much is two to the tenth?")
