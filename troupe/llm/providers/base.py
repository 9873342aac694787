"""The one I/O edge of the router: send messages to a model, get text and token counts back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["Message", "Provider", "ProviderReply", "ProviderRequest"]


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class ProviderRequest:
    model: str
    messages: tuple[Message, ...]
    json_schema: dict[str, Any] | None
    schema_name: str
    max_output_tokens: int
    timeout_s: float


@dataclass(frozen=True)
class ProviderReply:
    text: str
    tokens_in: int
    tokens_out: int
    model: str


class Provider(Protocol):
    """A model API. Implementations raise only `troupe.llm.errors.ProviderError` subclasses."""

    @property
    def name(self) -> str:
        """The chain name, e.g. `gemini`, `openai`, `ollama`."""

    @property
    def system(self) -> str:
        """The `gen_ai.provider.name` value, e.g. `gcp.gemini`, `openai`, `mistral_ai`."""

    async def generate(self, request: ProviderRequest) -> ProviderReply: ...

    async def aclose(self) -> None: ...
