"""The executor's adapter to the tool registry: a tool's failure becomes a failed step with its reason.

Each run is a `tool <name>` span (tool, outcome, duration, sandbox backend when the tool used one) and a
sample of the tool metrics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from pydantic import JsonValue

from executor_svc.step_runner import StepFailed
from schemas import StepStatus
from toolbox import Registry, ToolContext, ToolError, ToolTimeout, run_tool
from troupe.metrics import record_tool_step

__all__ = ["ToolboxRunner"]

_tracer = trace.get_tracer("troupe.executor")


class ToolboxRunner:
    def __init__(self, registry: Registry, context: ToolContext) -> None:
        self._registry = registry
        self._context = context

    async def run(self, tool: str, args: Mapping[str, JsonValue]) -> JsonValue:
        with _tracer.start_as_current_span(f"tool {tool}", record_exception=False) as span:
            span.set_attribute("troupe.tool.name", tool)
            started = time.monotonic()
            try:
                output = await self._run(tool, args)
            except StepFailed as exc:
                _ended(span, tool, exc.status.value, started, exc.output, exc.reason)
                raise
            _ended(span, tool, StepStatus.SUCCEEDED.value, started, output, None)
            return output

    async def _run(self, tool: str, args: Mapping[str, JsonValue]) -> JsonValue:
        try:
            return await run_tool(self._registry, tool, args, self._context)
        except ToolTimeout as exc:
            raise StepFailed(str(exc), StepStatus.TIMED_OUT, exc.details or None) from exc
        except ToolError as exc:
            raise StepFailed(str(exc), output=exc.details or None) from exc
        except Exception as exc:  # a tool's bug must not take the executor down: it is this step's failure
            raise StepFailed(f"{tool} crashed: {type(exc).__name__}: {exc}") from exc


def _ended(span: Span, tool: str, outcome: str, started: float, output: JsonValue, error: str | None) -> None:
    duration_s = time.monotonic() - started
    # Sandboxed tools (python_exec) say which backend ran them in their result.
    sandbox = output.get("backend") if isinstance(output, dict) else None
    sandbox = sandbox if isinstance(sandbox, str) else None
    span.set_attributes({"troupe.tool.outcome": outcome, "troupe.tool.duration_ms": int(duration_s * 1000)})
    if sandbox:
        span.set_attribute("troupe.tool.sandbox", sandbox)
    if error is not None:
        span.set_status(Status(StatusCode.ERROR, error[:200]))
    record_tool_step(tool, outcome, duration_s, sandbox)
