"""A provider made from a plain async function, for unit tests of the router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from troupe.llm.providers.base import ProviderReply, ProviderRequest

__all__ = ["FunctionProvider"]


@dataclass
class FunctionProvider:
    name: str
    answer: Callable[[ProviderRequest], Awaitable[ProviderReply]]
    system: str = "fake"
    requests: list[ProviderRequest] = field(default_factory=list)

    async def generate(self, request: ProviderRequest) -> ProviderReply:
        self.requests.append(request)
        return await self.answer(request)

    async def aclose(self) -> None:
        return None
