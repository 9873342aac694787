"""ai_tool: hands the step's prompt to the LLM router's ai_tool role (injected, so the toolbox does not
import the router). The executor hands each task's own completer in the ToolContext, so the calls count in
that task's usage and budget; the one given at construction serves callers without one."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from toolbox.errors import ProviderNotConfigured, ToolError, ToolFailed, ToolTimeout
from toolbox.registry import Complete, ToolContext, ToolSpec
from toolbox.settings import ToolSettings

__all__ = ["AiTool", "AiToolArgs", "AiToolResult", "Complete"]


class AiToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=100_000)


class AiToolResult(BaseModel):
    text: str


class AiTool:
    def __init__(self, settings: ToolSettings, complete: Complete | None = None) -> None:
        self._complete = complete
        self._timeout = settings.ai_timeout_s
        self.spec = ToolSpec(
            name="ai_tool",
            description="Ask the language model: summarise, explain, draft or transform text given in the prompt.",
            args_model=AiToolArgs,
            result_model=AiToolResult,
            timeout_s=settings.ai_timeout_s,
        )

    async def run(self, args: AiToolArgs, context: ToolContext) -> AiToolResult:
        complete = context.complete or self._complete
        if complete is None:
            raise ProviderNotConfigured("ai_tool: no LLM is wired in (the router's ai_tool role)")
        try:
            async with asyncio.timeout(self._timeout):
                text = await complete(args.prompt)
        except TimeoutError:
            raise ToolTimeout(f"ai_tool: no answer from the LLM within {self._timeout:g} s") from None
        except ToolError:
            raise
        except Exception as e:
            # The router's own errors are not ours to know; keep the reason, mark it retryable.
            raise ToolFailed(f"ai_tool: the LLM call failed: {type(e).__name__}: {e}") from e
        return AiToolResult(text=text)
