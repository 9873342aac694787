"""Running a plan's steps: dependency order, independent steps concurrently (bounded), a failing step is
a result and not a crash, and a step whose dependency did not succeed is skipped with the reason."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from pydantic import JsonValue

from schemas import Plan, PlanStep, StepResult, StepStatus, execution_order, utc_now

__all__ = ["ProgressSink", "StepFailed", "ToolRunner", "run_steps", "summarize"]

_SUMMARY_CHARS = 300
_REFERENCE = re.compile(r"\{\{\s*steps\.([A-Za-z0-9_-]+)\.output((?:\.[A-Za-z0-9_]+)*)\s*\}\}")


class StepFailed(Exception):
    """A tool's failure with the reason to show in the step result."""

    def __init__(self, reason: str, status: StepStatus = StepStatus.FAILED, output: JsonValue = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.output = output  # what the tool still produced (partial stdout of a stopped run, say)


class ToolRunner(Protocol):
    async def run(self, tool: str, args: Mapping[str, JsonValue]) -> JsonValue: ...


ProgressSink = Callable[[PlanStep, StepResult | None], Awaitable[None]]


def summarize(output: JsonValue) -> str:
    text = output if isinstance(output, str) else json.dumps(output, default=str)
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def resolve_references(
    args: Mapping[str, JsonValue], outputs: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """Fill `{{steps.<id>.output[.field...]}}` in string arguments with earlier steps' outputs."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = outputs.get(match.group(1))
        for part in filter(None, match.group(2).split(".")):
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else json.dumps(value, default=str)

    def fill(value: JsonValue) -> JsonValue:
        if isinstance(value, str):
            return _REFERENCE.sub(lookup, value)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    return {key: fill(value) for key, value in args.items()}


async def run_steps(
    plan: Plan, tools: ToolRunner, progress: ProgressSink, max_parallel: int = 4
) -> list[StepResult]:
    steps = {step.id: step for step in plan.steps}
    results: dict[str, StepResult] = {}
    gate = asyncio.Semaphore(max_parallel)

    async def run_one(step: PlanStep) -> None:
        blocked = [d for d in step.depends_on if results[d].status is not StepStatus.SUCCEEDED]
        if blocked:
            results[step.id] = StepResult(
                step_id=step.id,
                tool=step.tool,
                status=StepStatus.SKIPPED,
                error=f"skipped: depends on {', '.join(blocked)}, which did not succeed",
            )
            await progress(step, results[step.id])
            return
        async with gate:
            await progress(step, None)
            results[step.id] = await _run_step(step, tools, {k: v.output for k, v in results.items()})
            await progress(step, results[step.id])

    for wave in execution_order(plan.steps):
        await asyncio.gather(*(run_one(steps[step_id]) for step_id in wave))
    return [results[step.id] for step in plan.steps]


async def _run_step(step: PlanStep, tools: ToolRunner, outputs: Mapping[str, JsonValue]) -> StepResult:
    started, clock = utc_now(), time.monotonic()
    status, output, error = StepStatus.SUCCEEDED, None, None
    try:
        output = await tools.run(step.tool, resolve_references(step.args, outputs))
    except StepFailed as exc:
        status, error, output = exc.status, exc.reason, exc.output
    duration_ms = int((time.monotonic() - clock) * 1000)
    return StepResult(
        step_id=step.id,
        tool=step.tool,
        status=status,
        output=output,
        output_summary=summarize(output) if error is None else error[:_SUMMARY_CHARS],
        error=error,
        started_at=started,
        duration_ms=duration_ms,
    )
