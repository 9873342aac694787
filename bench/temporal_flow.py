"""The baseline: Troupe's plan, execute, review loop as one Temporal workflow with three activities.

The activities do the same trivial work as the services: the planner and reviewer ask the same instant LLM
through the same `openai` client and validate its answer with the same models; the executor evaluates the
plan's `math` steps with the same evaluator. The workflow only sequences them, as Temporal would have it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from bench.llm import PLANNER_MODEL, REVIEWER_MODEL, REVISION_HEADING

MAX_ITERATIONS = 3
_TIMEOUT = timedelta(seconds=60)


@workflow.defn(name="PlanExecuteReview")
class PlanExecuteReview:
    @workflow.run
    async def run(self, description: str) -> dict[str, Any]:
        feedback: str | None = None
        for iteration in range(1, MAX_ITERATIONS + 1):
            plan = await workflow.execute_activity(
                "plan", args=[description, feedback], start_to_close_timeout=_TIMEOUT
            )
            results = await workflow.execute_activity("execute", args=[plan], start_to_close_timeout=_TIMEOUT)
            review = await workflow.execute_activity(
                "review", args=[description, plan, results], start_to_close_timeout=_TIMEOUT
            )
            if review["verdict"] != "revise":
                status = "succeeded" if review["verdict"] == "approved" else "failed"
                return {"status": status, "result": review["final_result"], "iteration": iteration}
            feedback = review["feedback"]
        return {"status": "budget_exhausted", "result": None, "iteration": MAX_ITERATIONS}


class Activities:
    """One shared `openai` client per worker, as each Troupe service keeps one per process."""

    def __init__(self, llm_base_url: str) -> None:
        from openai import AsyncOpenAI

        self._llm = AsyncOpenAI(base_url=llm_base_url, api_key="scripted", max_retries=0, timeout=30)

    async def _ask(self, model: str, prompt: str) -> str:
        answer = await self._llm.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            response_format={"type": "json_object"},
        )
        return answer.choices[0].message.content or ""

    @activity.defn(name="plan")
    async def plan(self, description: str, feedback: str | None) -> dict[str, Any]:
        from schemas import Plan

        revision = f"\n## {REVISION_HEADING}\n{feedback}" if feedback else ""
        text = await self._ask(PLANNER_MODEL, f"## Task\n{description}{revision}")
        return Plan.model_validate_json(text).model_dump(mode="json")

    @activity.defn(name="execute")
    async def execute(self, plan: dict[str, Any]) -> list[dict[str, Any]]:
        from toolbox.math_tool import evaluate

        return [
            {
                "step_id": step["id"],
                "tool": step["tool"],
                "output": {"value": evaluate(step["args"]["expression"])},
            }
            for step in plan["steps"]
        ]

    @activity.defn(name="review")
    async def review(
        self, description: str, plan: dict[str, Any], results: list[dict[str, Any]]
    ) -> dict[str, Any]:
        from troupe.llm.answers import Review

        prompt = (
            f"## Task\n{description}\n## Plan\n{json.dumps(plan)}\n## Step results\n{json.dumps(results)}"
        )
        return Review.model_validate_json(await self._ask(REVIEWER_MODEL, prompt)).model_dump(mode="json")
