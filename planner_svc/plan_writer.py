"""Where plans come from: the LLM router's planner role, behind a narrow interface."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from schemas import FinalStatus, Plan, StepResult, TaskContext, Usage
from toolbox import ToolSpec
from troupe.llm.budget import Budget
from troupe.llm.errors import DeadlineReached, LLMError
from troupe.llm.roles import plan_task
from troupe.llm.router import LLMRouter

__all__ = ["Draft", "FunctionPlanWriter", "PlanWriter", "PlanningFailed", "Revision", "RouterPlanWriter"]


class PlanningFailed(Exception):
    """No plan could be had; `reason` says why, for the task's final status."""

    def __init__(
        self, reason: str, usage: Usage | None = None, status: FinalStatus = FinalStatus.FAILED
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage or Usage()
        # timed_out when the task's deadline cut the planner's chain.
        self.status = status


@dataclass(frozen=True)
class Draft:
    plan: Plan
    author: str
    usage: Usage


@dataclass(frozen=True)
class Revision:
    feedback: str
    previous_plan: Plan
    # With excerpts of their outputs, not the whole outputs.
    previous_results: Sequence[StepResult]


class PlanWriter(Protocol):
    """Returns a Draft, or raises PlanningFailed saying why there is none."""

    async def write(
        self, task_id: str, context: TaskContext, revision: Revision | None, *, tenant: str
    ) -> Draft: ...


class RouterPlanWriter:
    def __init__(self, router: LLMRouter, tools: Sequence[ToolSpec]) -> None:
        self._router = router
        self._tools = tools

    async def write(
        self, task_id: str, context: TaskContext, revision: Revision | None, *, tenant: str
    ) -> Draft:
        limits = context.request.constraints
        budget = Budget(
            max_tokens=limits.max_llm_tokens, max_cost_usd=limits.max_cost_usd, spent=context.spent
        )
        try:
            answer = await plan_task(
                self._router,
                context.request,
                self._tools,
                task_id=task_id,
                tenant=tenant,
                deadline=context.deadline,
                budget=budget,
                feedback=_feedback(revision) if revision else None,
            )
        except DeadlineReached as exc:
            raise PlanningFailed(f"no plan: {exc.reason}", exc.usage, FinalStatus.TIMED_OUT) from exc
        except LLMError as exc:
            raise PlanningFailed(f"no plan: {exc.reason}") from exc
        if answer.parsed is None:  # pragma: no cover - the router always parses when given a schema
            raise PlanningFailed("no plan: the planner's answer could not be read", answer.usage)
        return Draft(answer.parsed, answer.answered_by, answer.usage)


def _feedback(revision: Revision) -> str:
    results = [
        {
            "step_id": r.step_id,
            "tool": r.tool,
            "status": r.status.value,
            "error": r.error,
            "output": r.output,  # an excerpt (troupe.excerpts), bounded by TROUPE_EXCERPT_MAX_CHARS
            **({"artefact_id": r.artefact.id, "artefact_bytes": r.artefact.size} if r.artefact else {}),
        }
        for r in revision.previous_results
    ]
    return (
        f"{revision.feedback}\n\nPrevious plan:\n{revision.previous_plan.model_dump_json()}\n\n"
        f"Previous results:\n{json.dumps(results)}"
    )


class FunctionPlanWriter:
    """A fake from a plain function, for tests."""

    def __init__(self, write: Callable[[TaskContext, Revision | None], Awaitable[Draft]]) -> None:
        self._write = write

    async def write(
        self, task_id: str, context: TaskContext, revision: Revision | None, *, tenant: str
    ) -> Draft:
        return await self._write(context, revision)
