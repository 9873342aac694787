"""Scripted Gemini and OpenAI servers, an in-memory span exporter, and a router factory wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.llm.scripted_servers import ScriptedServer, scripted_server
from troupe.llm import LLMRouter, LLMSettings, create_router
from troupe.llm.cache import CacheStore


# One server per API for the whole module (stopping one costs uvicorn's shutdown ticks), reset per test.
@pytest.fixture(scope="module")
async def _gemini_server() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as server:
        yield server


@pytest.fixture(scope="module")
async def _openai_server() -> AsyncIterator[ScriptedServer]:
    async with scripted_server() as server:
        yield server


@pytest.fixture
def gemini(_gemini_server: ScriptedServer) -> ScriptedServer:
    _gemini_server.reset()
    return _gemini_server


@pytest.fixture
def openai_api(_openai_server: ScriptedServer) -> ScriptedServer:
    _openai_server.reset()
    return _openai_server


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


class Clock:
    """A monotonic clock the test moves by hand, for the circuit breaker."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


RouterFactory = Callable[..., LLMRouter]


@pytest.fixture
async def make_router(
    gemini: ScriptedServer, openai_api: ScriptedServer, spans: InMemorySpanExporter, clock: Clock
) -> AsyncIterator[RouterFactory]:
    """Routers whose gemini and openai providers are the scripted servers; keyword arguments override settings."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    made: list[LLMRouter] = []

    def make(cache: CacheStore | None = None, **overrides: Any) -> LLMRouter:
        values: dict[str, Any] = {
            "gemini_api_key": "test-key",
            "gemini_base_url": gemini.base_url,
            "openai_api_key": "test-key",
            "openai_base_url": f"{openai_api.base_url}/v1",
            "mistral_api_key": None,
            "ollama_base_url": None,
            "planner_chain": "gemini:gemini-2.5-pro,openai:gpt-4o",
            "reviewer_chain": "gemini:gemini-2.5-flash,openai:gpt-4o-mini",
            "timeout_s": 1.0,
            "retry_attempts": 3,
            "retry_initial_s": 0.01,
            "retry_max_s": 0.05,
            "breaker_failures": 3,
            "breaker_cooldown_s": 30.0,
            **overrides,
        }
        settings = LLMSettings(_env_file=None, **values)
        router = create_router(settings, cache=cache, tracer=provider.get_tracer("troupe.llm"), clock=clock)
        made.append(router)
        return router

    yield make
    for router in made:
        await router.aclose()
    provider.shutdown()
