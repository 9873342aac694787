"""The router stops a fallback chain at the task's deadline: real clients against a slow scripted server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from tests.integration.llm.conftest import RouterFactory
from tests.integration.llm.scripted_servers import Reply, ScriptedServer, gemini_text, openai_text
from troupe.llm import DeadlineReached, LLMRequest, Role


class Answer(BaseModel):
    city: str


GOOD = json.dumps({"city": "Lyon"})


def ask(deadline: datetime) -> LLMRequest[Answer]:
    return LLMRequest(role=Role.PLANNER, prompt="Which city?", schema=Answer, deadline=deadline)


async def test_a_deadline_cuts_a_slow_fallback_chain(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(Reply(200, gemini_text(GOOD).body, delay_s=30))
    openai_api.queue(openai_text(GOOD))
    # The per-call timeout alone would wait 20 s for gemini and then ask openai.
    router = make_router(timeout_s=20)

    with pytest.raises(DeadlineReached) as raised:
        await router.complete(ask(datetime.now(UTC) + timedelta(seconds=0.5)))

    assert raised.value.reason.startswith("the task's deadline cut the planner chain: gemini:gemini-2.5-pro:")
    assert "left before the task's deadline" in raised.value.reason
    assert not raised.value.retryable
    assert len(gemini.requests) == 1 and openai_api.requests == []
    # The provider was not at fault: its circuit stays closed.
    assert router.breaker("gemini").allow()


async def test_a_passed_deadline_makes_no_call_at_all(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    with pytest.raises(DeadlineReached, match="not tried: the task's deadline had passed"):
        await make_router().complete(ask(datetime.now(UTC) - timedelta(seconds=1)))
    assert gemini.requests == [] and openai_api.requests == []


async def test_a_deadline_far_away_leaves_the_fallback_to_the_per_call_timeout(
    make_router: RouterFactory, gemini: ScriptedServer, openai_api: ScriptedServer
) -> None:
    gemini.queue(Reply(200, gemini_text(GOOD).body, delay_s=5))
    openai_api.queue(openai_text(GOOD))
    answer = await make_router(timeout_s=0.3).complete(ask(datetime.now(UTC) + timedelta(minutes=5)))
    assert answer.provider == "openai" and answer.parsed == Answer(city="Lyon")
