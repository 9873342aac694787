"""Span attributes of LLM calls, after the OpenTelemetry GenAI semantic conventions, plus Troupe's own.

Each `complete` is one span (`llm <role>`) carrying the totals of the call; each HTTP call to a provider is a
child client span (`chat <model>`). Summing `gen_ai.usage.*` and `troupe.llm.cost_usd` over a task's
`llm <role>` spans gives the task's totals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from schemas import Usage
from troupe.llm.config import Role
from troupe.llm.errors import ProviderError
from troupe.llm.providers.base import ProviderReply, ProviderRequest
from troupe.metrics import record_llm_usage

if TYPE_CHECKING:
    from troupe.llm.answers import LLMAnswer

__all__ = [
    "answer_attributes",
    "call_attributes",
    "record_error",
    "record_usage",
    "reply_attributes",
    "request_attributes",
    "usage_attributes",
]

Attributes = dict[str, AttributeValue]


def request_attributes(role: Role, task_id: str | None) -> Attributes:
    attrs: Attributes = {"gen_ai.operation.name": "chat", "troupe.llm.role": role.value}
    if task_id:
        attrs["troupe.task_id"] = task_id
    return attrs


def answer_attributes(answer: LLMAnswer[Any], system: str) -> Attributes:
    return {
        "gen_ai.provider.name": system,
        "gen_ai.system": system,
        "gen_ai.request.model": answer.model,
        "gen_ai.usage.input_tokens": answer.usage.tokens_in,
        "gen_ai.usage.output_tokens": answer.usage.tokens_out,
        "troupe.llm.provider": answer.provider,
        "troupe.llm.calls": answer.usage.llm_calls,
        "troupe.llm.cost_usd": answer.usage.cost_usd,
        "troupe.llm.cache_hit": answer.cache_hit,
        "troupe.llm.fallback": answer.fallback,
        "troupe.llm.offline": answer.offline,
        "troupe.llm.latency_ms": answer.latency_ms,
    }


def usage_attributes(usage: Usage) -> Attributes:
    return {
        "gen_ai.usage.input_tokens": usage.tokens_in,
        "gen_ai.usage.output_tokens": usage.tokens_out,
        "troupe.llm.calls": usage.llm_calls,
        "troupe.llm.cost_usd": usage.cost_usd,
    }


def call_attributes(provider: str, system: str, call: ProviderRequest) -> Attributes:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": system,
        "gen_ai.system": system,
        "gen_ai.request.model": call.model,
        "gen_ai.request.max_tokens": call.max_output_tokens,
        "gen_ai.output.type": "json" if call.json_schema is not None else "text",
        "troupe.llm.provider": provider,
    }


def reply_attributes(reply: ProviderReply, usage: Usage) -> Attributes:
    return {
        "gen_ai.response.model": reply.model,
        "gen_ai.usage.input_tokens": usage.tokens_in,
        "gen_ai.usage.output_tokens": usage.tokens_out,
        "troupe.llm.cost_usd": usage.cost_usd,
    }


def record_error(span: Span, error: ProviderError) -> None:
    span.set_attribute("error.type", type(error).__name__)
    span.set_status(Status(StatusCode.ERROR, error.reason))


def record_usage(provider: str, model: str, usage: Usage) -> None:
    """Tokens and cost of one provider call, into the LLM metrics (by provider and model)."""
    record_llm_usage(provider, model, usage.tokens_in, usage.tokens_out, usage.cost_usd)
