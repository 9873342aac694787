"""One real call per provider whose key is set; skipped otherwise (CI and offline machines have no keys)."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel

from troupe.llm import LLMRequest, LLMSettings, Role, create_router
from troupe.llm.config import parse_chain


class Capital(BaseModel):
    country: str
    capital: str


CASES = [
    ("gemini:gemini-2.5-flash", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    ("openai:gpt-4o-mini", ("OPENAI_API_KEY",)),
]


@pytest.mark.parametrize(("link", "keys"), CASES)
async def test_a_real_provider_answers_in_structured_output(link: str, keys: tuple[str, ...]) -> None:
    if not any(os.environ.get(k) for k in keys):
        pytest.skip(f"set {' or '.join(keys)} to run the real-provider smoke test")
    settings = LLMSettings(reviewer_chain=parse_chain(link), offline_fallback=False, timeout_s=60)
    router = create_router(settings)
    try:
        answer = await router.complete(
            LLMRequest(role=Role.REVIEWER, prompt="What is the capital of France?", schema=Capital)
        )
    finally:
        await router.aclose()
    assert answer.parsed is not None and answer.parsed.capital.lower() == "paris"
    assert answer.usage.tokens_in > 0 and answer.usage.tokens_out > 0 and answer.usage.cost_usd > 0
