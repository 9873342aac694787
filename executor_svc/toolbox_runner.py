"""The executor's adapter to the tool registry: a tool's failure becomes a failed step with its reason."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import JsonValue

from executor_svc.step_runner import StepFailed
from schemas import StepStatus
from toolbox import Registry, ToolContext, ToolError, ToolTimeout, run_tool

__all__ = ["ToolboxRunner"]


class ToolboxRunner:
    def __init__(self, registry: Registry, context: ToolContext) -> None:
        self._registry = registry
        self._context = context

    async def run(self, tool: str, args: Mapping[str, JsonValue]) -> JsonValue:
        try:
            return await run_tool(self._registry, tool, args, self._context)
        except ToolTimeout as exc:
            raise StepFailed(str(exc), StepStatus.TIMED_OUT, exc.details or None) from exc
        except ToolError as exc:
            raise StepFailed(str(exc), output=exc.details or None) from exc
        except Exception as exc:  # a tool's bug must not take the executor down: it is this step's failure
            raise StepFailed(f"{tool} crashed: {type(exc).__name__}: {exc}") from exc
