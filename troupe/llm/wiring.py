"""The composition root of the router: real provider clients from the settings, and the MongoDB cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import openai
from google import genai
from google.genai import types
from opentelemetry import trace
from pymongo.asynchronous.database import AsyncDatabase

from troupe.llm.cache import CacheStore, MongoCache
from troupe.llm.config import OFFLINE, Endpoint, LLMSettings, Role
from troupe.llm.providers.base import Provider
from troupe.llm.providers.gemini import GeminiProvider
from troupe.llm.providers.openai_compat import OpenAICompatProvider
from troupe.llm.router import LLMRouter
from troupe.logs import get_logger

__all__ = ["build_providers", "create_router", "open_mongo_cache"]

log = get_logger("troupe.llm")


def create_router(
    settings: LLMSettings,
    *,
    cache: CacheStore | None = None,
    tracer: trace.Tracer | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> LLMRouter:
    """A router over every usable provider; says once which chained providers are skipped and why."""
    providers, skipped = build_providers(settings)
    for reason in skipped:
        log.info("llm provider skipped", reason=reason)
    chains = {role.value: [str(link) for link in settings.chain(role)] for role in Role}
    log.info("llm router ready", providers=sorted(providers), chains=chains, cache=cache is not None)
    return LLMRouter(settings, providers, cache=cache, tracer=tracer, clock=clock)


def build_providers(settings: LLMSettings) -> tuple[dict[str, Provider], list[str]]:
    """Clients for the usable endpoints, and a reason for each chained provider that is not usable."""
    chained = {link.provider for role in Role for link in settings.chain(role)} - {OFFLINE}
    endpoints = settings.all_endpoints()
    providers: dict[str, Provider] = {}
    skipped = []
    for name in sorted(chained | set(settings.endpoints)):
        endpoint = endpoints.get(name)
        if endpoint is None:
            skipped.append(f"{name}: unknown provider; add it under TROUPE_LLM_ENDPOINTS")
        elif not endpoint.usable:
            skipped.append(f"{name}: no {endpoint.key_names or 'base URL'} set")
        else:
            providers[name] = _provider(name, endpoint, settings)
    return providers, skipped


def _provider(name: str, endpoint: Endpoint, settings: LLMSettings) -> Provider:
    key = endpoint.api_key.get_secret_value() if endpoint.api_key else None
    if endpoint.kind == "gemini":
        options = types.HttpOptions(base_url=endpoint.base_url, api_version=settings.gemini_api_version)
        return GeminiProvider(genai.Client(api_key=key, http_options=options))
    client_args: dict[str, Any] = {"max_retries": 0, "timeout": settings.timeout_s}
    if endpoint.base_url:
        client_args["base_url"] = endpoint.base_url
    # Local servers take no key, but the client insists on one.
    return OpenAICompatProvider(name, openai.AsyncOpenAI(api_key=key or "unused", **client_args))


async def open_mongo_cache(database: AsyncDatabase[dict[str, Any]], settings: LLMSettings) -> MongoCache:
    cache = MongoCache(database[settings.cache_collection])
    await cache.ensure_indexes()
    return cache
