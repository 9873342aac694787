"""The planner and reviewer calls the services make: render the versioned prompt, ask the router, with the
offline planner or reviewer as the chain's last resort."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from schemas import Finding, Plan, StepResult, TaskRequest
from troupe.llm.answers import LLMAnswer, LLMRequest, Review
from troupe.llm.budget import Budget
from troupe.llm.config import Role
from troupe.llm.offline import OutputCheck, offline_plan, offline_review
from troupe.llm.prompts import ToolLike, render_prompt, render_tool_catalogue
from troupe.llm.router import LLMRouter

__all__ = ["ai_tool_completer", "plan_task", "review_results"]


async def plan_task(
    router: LLMRouter,
    request: TaskRequest,
    tools: Iterable[ToolLike],
    *,
    task_id: str | None = None,
    tenant: str = "default",
    deadline: datetime | None = None,
    budget: Budget | None = None,
    feedback: str | None = None,
    prompt_version: int = 1,
) -> LLMAnswer[Plan]:
    revision = (
        f"## Review of the previous attempt\n{feedback}\n\nWrite a new plan that addresses this review."
        if feedback
        else ""
    )
    prompt = render_prompt(
        "planner",
        prompt_version,
        tool_catalogue=render_tool_catalogue(tools, request.constraints.allowed_tools),
        task=request.description,
        revision=revision,
    )
    return await router.complete(
        LLMRequest(
            role=Role.PLANNER,
            prompt=prompt,
            schema=Plan,
            task_id=task_id,
            tenant=tenant,
            deadline=deadline,
            budget=budget or Budget(),
            offline=partial(offline_plan, request),
        )
    )


async def review_results(
    router: LLMRouter,
    description: str,
    plan: Plan,
    results: Sequence[StepResult],
    *,
    output_ok: OutputCheck | None = None,
    findings: Sequence[Finding] = (),
    task_id: str | None = None,
    tenant: str = "default",
    deadline: datetime | None = None,
    budget: Budget | None = None,
    prompt_version: int = 2,
) -> LLMAnswer[Review]:
    # `results` carry excerpts of their outputs (troupe.excerpts), bounded by the caller.
    shown = [
        {
            "step_id": r.step_id,
            "tool": r.tool,
            "status": r.status.value,
            "error": r.error,
            "output": json.dumps(r.output, default=str),
            **({"output_kept_as_artefact": _artefact_note(r)} if r.artefact else {}),
        }
        for r in results
    ]
    prompt = render_prompt(
        "reviewer",
        prompt_version,
        task=description,
        plan=plan.model_dump_json(indent=2),
        results=json.dumps(shown, indent=2),
        findings=json.dumps([f.model_dump(mode="json") for f in findings], indent=2),
    )
    return await router.complete(
        LLMRequest(
            role=Role.REVIEWER,
            prompt=prompt,
            schema=Review,
            task_id=task_id,
            tenant=tenant,
            deadline=deadline,
            budget=budget or Budget(),
            offline=partial(offline_review, plan, results, output_ok, findings),
        )
    )


def _artefact_note(result: StepResult) -> str:
    assert result.artefact is not None
    return (
        f"the whole output ({result.artefact.size:,} bytes, {result.artefact.media_type}) is artefact "
        f"{result.artefact.id}; `output` is an excerpt of it"
    )


def ai_tool_completer(
    router: LLMRouter,
    *,
    task_id: str | None = None,
    tenant: str = "default",
    budget: Budget | None = None,
) -> Callable[[str], Awaitable[str]]:
    """A prompt -> text function over the `ai_tool` role, the shape the toolbox's ai_tool is given. The
    executor uses `TaskLLM` instead, which also adds the calls to the task's usage."""

    async def complete(prompt: str) -> str:
        request: LLMRequest[Any] = LLMRequest(
            role=Role.AI_TOOL, prompt=prompt, task_id=task_id, tenant=tenant, budget=budget or Budget()
        )
        return (await router.complete(request)).text

    return complete
