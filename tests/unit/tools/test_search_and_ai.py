from __future__ import annotations

import dataclasses

import httpx
import pytest

from toolbox import (
    ProviderNotConfigured,
    Registry,
    ToolContext,
    ToolFailed,
    ToolSettings,
    ToolTimeout,
    run_tool,
)
from toolbox.ai_tool import AiTool
from toolbox.web_search import FakeSearchProvider, SearchHit, SearxngProvider, WebSearch


async def test_web_search_without_a_provider_says_how_to_configure_one(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    with pytest.raises(ProviderNotConfigured, match="TROUPE_TOOLS_SEARCH_URL"):
        await run_tool(Registry([WebSearch(tool_settings)]), "web_search", {"query": "x"}, context)


async def test_web_search_returns_hits_up_to_max_results(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    hits = [SearchHit(title=f"t{i}", url=f"https://e.test/{i}") for i in range(5)]
    registry = Registry([WebSearch(tool_settings, FakeSearchProvider(lambda q: hits))])
    out = await run_tool(registry, "web_search", {"query": "x", "max_results": 2}, context)
    assert out == {
        "provider": "fake",
        "results": [
            {"title": "t0", "url": "https://e.test/0", "snippet": ""},
            {"title": "t1", "url": "https://e.test/1", "snippet": ""},
        ],
    }


async def test_searxng_adapter_maps_the_json_api() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/search"
        assert request.url.params["format"] == "json"
        assert request.headers["authorization"] == "Bearer k"
        page = {
            "results": [
                {"title": "A", "url": "https://a.test", "content": "about a"},
                {"url": "https://b.test"},
            ]
        }
        return httpx.Response(200, json=page)

    provider = SearxngProvider("http://s.test/", "k", 5, transport=httpx.MockTransport(handler))
    assert await provider.search("q", 10) == [
        SearchHit(title="A", url="https://a.test", snippet="about a"),
        SearchHit(title="", url="https://b.test", snippet=""),
    ]


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(503), "answered HTTP 503"),
        (httpx.Response(200, text="<html>"), "did not answer with SearXNG JSON"),
    ],
)
async def test_searxng_errors_are_clear(response: httpx.Response, reason: str) -> None:
    provider = SearxngProvider("http://s.test", None, 5, transport=httpx.MockTransport(lambda r: response))
    with pytest.raises(ToolFailed, match=reason):
        await provider.search("q", 10)


async def test_ai_tool_sends_the_prompt_to_the_injected_router(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    prompts: list[str] = []

    async def complete(prompt: str) -> str:
        prompts.append(prompt)
        return "a summary"

    out = await run_tool(
        Registry([AiTool(tool_settings, complete)]), "ai_tool", {"prompt": "summarise"}, context
    )
    assert out == {"text": "a summary"}
    assert prompts == ["summarise"]


async def test_ai_tool_errors(tool_settings: ToolSettings, context: ToolContext) -> None:
    with pytest.raises(ProviderNotConfigured, match="no LLM"):
        await run_tool(Registry([AiTool(tool_settings)]), "ai_tool", {"prompt": "x"}, context)

    async def broken(prompt: str) -> str:
        raise RuntimeError("quota")

    with pytest.raises(ToolFailed, match="RuntimeError: quota"):
        await run_tool(Registry([AiTool(tool_settings, broken)]), "ai_tool", {"prompt": "x"}, context)

    async def slow(prompt: str) -> str:
        import asyncio

        await asyncio.sleep(5)
        return ""

    quick = tool_settings.model_copy(update={"ai_timeout_s": 0.05})
    with pytest.raises(ToolTimeout, match="no answer from the LLM"):
        await run_tool(Registry([AiTool(quick, slow)]), "ai_tool", {"prompt": "x"}, context)


async def test_ai_tool_asks_the_tasks_own_model_when_the_context_carries_one(
    tool_settings: ToolSettings, context: ToolContext
) -> None:
    async def shared(prompt: str) -> str:
        raise AssertionError("the task's own model must answer")

    async def tasks_own(prompt: str) -> str:
        return f"task: {prompt}"

    bound = dataclasses.replace(context, complete=tasks_own)
    out = await run_tool(Registry([AiTool(tool_settings, shared)]), "ai_tool", {"prompt": "hi"}, bound)
    assert out == {"text": "task: hi"}
