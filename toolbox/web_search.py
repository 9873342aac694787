"""web_search: a query against a configured search provider; SearXNG's JSON API is the built-in adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from toolbox.errors import ProviderNotConfigured, ToolFailed, ToolTimeout
from toolbox.registry import ToolContext, ToolSpec
from toolbox.settings import ToolSettings

__all__ = [
    "FakeSearchProvider",
    "SearchArgs",
    "SearchHit",
    "SearchProvider",
    "SearchResult",
    "SearxngProvider",
    "WebSearch",
]


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=500)
    max_results: int | None = Field(default=None, ge=1, le=50)


class SearchHit(BaseModel):
    title: str
    url: str
    snippet: str = ""


class SearchResult(BaseModel):
    provider: str
    results: list[SearchHit]


class SearchProvider(Protocol):
    @property
    def name(self) -> str: ...

    async def search(self, query: str, max_results: int) -> list[SearchHit]: ...


class FakeSearchProvider:
    name = "fake"

    def __init__(self, answer: Callable[[str], list[SearchHit]]) -> None:
        self.answer = answer

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        return self.answer(query)[:max_results]


class _SearxngHit(BaseModel):
    title: str = ""
    url: str
    content: str | None = ""


class _SearxngPage(BaseModel):
    results: list[_SearxngHit] = Field(default_factory=list)


class SearxngProvider:
    """GET {url}/search?q=...&format=json. SearXNG itself has no keys; a key is sent as a bearer token for the
    proxies that usually guard a shared instance."""

    name = "searxng"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = timeout_s
        self._transport = transport

    async def search(self, query: str, max_results: int) -> list[SearchHit]:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        params = {"q": query, "format": "json"}
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=self._timeout) as client:
                response = await client.get(f"{self._base_url}/search", params=params, headers=headers)
        except httpx.TimeoutException:
            raise ToolTimeout(
                f"web_search: {self._base_url} did not answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as e:
            raise ToolFailed(
                f"web_search: request to {self._base_url} failed: {type(e).__name__}: {e}"
            ) from None
        if response.status_code != 200:
            raise ToolFailed(f"web_search: {self._base_url} answered HTTP {response.status_code}")
        try:
            page = _SearxngPage.model_validate_json(response.content)
        except ValidationError:
            raise ToolFailed(f"web_search: {self._base_url} did not answer with SearXNG JSON") from None
        hits = [SearchHit(title=h.title, url=h.url, snippet=h.content or "") for h in page.results]
        return hits[:max_results]


class WebSearch:
    def __init__(self, settings: ToolSettings, provider: SearchProvider | None = None) -> None:
        self._settings = settings
        if provider is None and settings.search_url:
            provider = SearxngProvider(
                settings.search_url, settings.search_api_key, settings.search_timeout_s
            )
        self._provider = provider
        self.spec = ToolSpec(
            name="web_search",
            description="Search the web; returns titles, URLs and snippets.",
            args_model=SearchArgs,
            result_model=SearchResult,
            timeout_s=settings.search_timeout_s,
            limits={"max_results": settings.search_max_results},
        )

    async def run(self, args: SearchArgs, context: ToolContext) -> SearchResult:
        if self._provider is None:
            raise ProviderNotConfigured(
                "web_search: no search provider is configured (set TROUPE_TOOLS_SEARCH_URL to a SearXNG instance, "
                "and TROUPE_TOOLS_SEARCH_API_KEY if it needs one)"
            )
        wanted = min(args.max_results or self._settings.search_max_results, self._settings.search_max_results)
        hits = await self._provider.search(args.query, wanted)
        return SearchResult(provider=self._provider.name, results=hits)
