"""OpenAI and every OpenAI-compatible server (Mistral, Ollama, Groq, vLLM, LM Studio) through `openai`."""

from __future__ import annotations

from typing import Any

import openai
from openai.types.chat import ChatCompletion

from troupe.llm.errors import (
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    Refused,
)
from troupe.llm.providers.base import ProviderReply, ProviderRequest

__all__ = ["OpenAICompatProvider", "convert_openai_error"]

# gen_ai.provider.name values from the OpenTelemetry GenAI conventions; others use the chain name.
_SYSTEMS = {"openai": "openai", "mistral": "mistral_ai", "groq": "groq", "deepseek": "deepseek"}


class OpenAICompatProvider:
    """Chat completions with `response_format: json_schema` for structured output.

    The client's own retries are off (`max_retries=0`): the router retries with its own policy and must
    see every failure to keep its circuit breaker honest.
    """

    def __init__(self, name: str, client: openai.AsyncOpenAI) -> None:
        self.name = name
        self.system = _SYSTEMS.get(name, name)
        self._client = client
        # OpenAI wants max_completion_tokens (its reasoning models refuse max_tokens); compatible servers
        # (Mistral, Ollama, vLLM) know the older max_tokens, and some refuse fields they do not know.
        self._length_field = "max_completion_tokens" if name == "openai" else "max_tokens"

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            self._length_field: request.max_output_tokens,
        }
        if request.json_schema is not None:
            # Not `strict`: strict mode refuses schemas with open objects, like a plan step's free-form args.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.json_schema, "strict": False},
            }
        try:
            # The client's low-level post with a body already in wire form: `chat.completions.create` walks
            # every message and the whole JSON schema on each call to transform parameters that need none.
            completion = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"timeout": request.timeout_s},
            )
        except openai.OpenAIError as exc:
            raise convert_openai_error(exc) from exc
        if not completion.choices:
            raise ProviderUnavailable("the answer had no choices")
        choice = completion.choices[0]
        if choice.message.refusal or choice.finish_reason == "content_filter":
            raise Refused(f"the model refused: {choice.message.refusal or 'content filter'}")
        usage = completion.usage
        return ProviderReply(
            text=choice.message.content or "",
            tokens_in=usage.prompt_tokens if usage else 0,
            tokens_out=usage.completion_tokens if usage else 0,
            model=completion.model or request.model,
        )

    async def aclose(self) -> None:
        await self._client.close()


def convert_openai_error(exc: openai.OpenAIError) -> ProviderError:
    if isinstance(exc, openai.APITimeoutError):
        return ProviderTimeout("timed out")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderUnavailable(f"connection error: {exc}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = f"HTTP {status}: {exc.message}"
        if status == 429 or exc.code == "insufficient_quota":
            return RateLimited(detail)
        if status >= 500:
            return ProviderUnavailable(detail)
        return ProviderRejected(detail)
    return ProviderUnavailable(f"{type(exc).__name__}: {exc}")
