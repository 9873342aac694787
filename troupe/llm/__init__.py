"""The LLM router: per-role chains of providers with fallback, retries, circuit breakers, structured output,
a cache, budgets and cost telemetry, and an honest offline mode. See docs/llm-router.md."""

from troupe.llm.answers import LLMAnswer, LLMRequest, Review
from troupe.llm.budget import Budget
from troupe.llm.cache import CacheStore, InMemoryCache, MongoCache
from troupe.llm.config import ChainLink, LLMSettings, Role
from troupe.llm.errors import (
    AllProvidersFailed,
    Attempt,
    BudgetExceeded,
    DeadlineReached,
    InvalidOutput,
    LLMError,
    NoLLMConfigured,
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    Refused,
)
from troupe.llm.offline import offline_plan, offline_review
from troupe.llm.prompts import ToolDeclaration
from troupe.llm.roles import ai_tool_completer, plan_task, review_results
from troupe.llm.router import LLMRouter
from troupe.llm.wiring import create_router, open_mongo_cache

__all__ = [
    "AllProvidersFailed",
    "Attempt",
    "Budget",
    "BudgetExceeded",
    "CacheStore",
    "ChainLink",
    "DeadlineReached",
    "InMemoryCache",
    "InvalidOutput",
    "LLMAnswer",
    "LLMError",
    "LLMRequest",
    "LLMRouter",
    "LLMSettings",
    "MongoCache",
    "NoLLMConfigured",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "Refused",
    "Review",
    "Role",
    "ToolDeclaration",
    "ai_tool_completer",
    "create_router",
    "offline_plan",
    "offline_review",
    "open_mongo_cache",
    "plan_task",
    "review_results",
]
