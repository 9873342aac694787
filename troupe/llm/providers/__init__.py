"""Model APIs behind one Protocol: Gemini, OpenAI and OpenAI-compatible servers, and a fake for tests."""

from troupe.llm.providers.base import Message, Provider, ProviderReply, ProviderRequest
from troupe.llm.providers.fake import FunctionProvider

__all__ = ["FunctionProvider", "Message", "Provider", "ProviderReply", "ProviderRequest"]
