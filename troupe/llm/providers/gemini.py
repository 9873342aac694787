"""Gemini through `google-genai`, with `responseJsonSchema` for structured output."""

from __future__ import annotations

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from troupe.llm.errors import (
    ProviderError,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    Refused,
)
from troupe.llm.providers.base import ProviderReply, ProviderRequest

__all__ = ["GeminiProvider", "convert_gemini_error"]

_BLOCKED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}


class GeminiProvider:
    """The client is built without retry options, so it makes exactly one HTTP call per `generate`."""

    name = "gemini"
    system = "gcp.gemini"

    def __init__(self, client: genai.Client) -> None:
        self._client = client

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)]
            )
            for m in request.messages
            if m.role != "system"
        ]
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=request.max_output_tokens,
            response_mime_type="application/json" if request.json_schema is not None else None,
            response_json_schema=request.json_schema,
            http_options=types.HttpOptions(timeout=int(request.timeout_s * 1000)),
        )
        try:
            response = await self._client.aio.models.generate_content(
                model=request.model, contents=contents, config=config
            )
        except Exception as exc:
            raise convert_gemini_error(exc) from exc
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            raise Refused(f"the prompt was blocked: {feedback.block_reason}")
        if not response.candidates:
            raise Refused("the answer had no candidates")
        reason = response.candidates[0].finish_reason
        if reason is not None and str(reason.value) in _BLOCKED:
            raise Refused(f"the answer was blocked: {reason.value}")
        usage = response.usage_metadata
        return ProviderReply(
            text=response.text or "",
            tokens_in=(usage.prompt_token_count or 0) if usage else 0,
            # Thinking tokens are billed as output.
            tokens_out=((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0))
            if usage
            else 0,
            model=response.model_version or request.model,
        )

    async def aclose(self) -> None:
        await self._client.aio.aclose()


def convert_gemini_error(exc: Exception) -> ProviderError:
    if isinstance(exc, genai_errors.APIError):
        detail = f"HTTP {exc.code} {exc.status or ''}: {exc.message or ''}".strip()
        if exc.code == 429 or exc.status == "RESOURCE_EXHAUSTED":
            return RateLimited(detail)
        if isinstance(exc, genai_errors.ServerError) or (exc.code or 0) >= 500:
            return ProviderUnavailable(detail)
        return ProviderRejected(detail)
    # The client sends through httpx or its fork httpx2, whose exceptions share names but not classes.
    kind = type(exc).__name__
    if "Timeout" in kind or isinstance(exc, TimeoutError):
        return ProviderTimeout("timed out")
    if any(c.__name__ in {"TransportError", "NetworkError"} for c in type(exc).__mro__):
        return ProviderUnavailable(f"connection error: {kind}: {exc}")
    return ProviderUnavailable(f"{kind}: {exc}")
