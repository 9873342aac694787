"""The ai_tool's language model for one task: the router's ai_tool role with the task's id, tenant, deadline
and budget, adding up what the calls spent so the executor can report it on the task's events."""

from __future__ import annotations

from typing import Any

from schemas import TaskContext, Usage
from troupe.llm.answers import LLMRequest
from troupe.llm.budget import Budget, over_budget
from troupe.llm.config import Role
from troupe.llm.errors import AllProvidersFailed, BudgetExceeded
from troupe.llm.router import LLMRouter

__all__ = ["TaskLLM"]


class TaskLLM:
    """`complete` is the `prompt -> text` the toolbox's ai_tool takes. `usage` is what every call spent,
    failed attempts included; `over_budget` says why the task must stop once a call found the budget spent."""

    def __init__(self, router: LLMRouter, *, task_id: str, tenant: str, context: TaskContext) -> None:
        self._router = router
        self._task_id = task_id
        self._tenant = tenant
        self._context = context
        self.usage = Usage()
        self.over_budget: str | None = None

    async def complete(self, prompt: str) -> str:
        request: LLMRequest[Any] = LLMRequest(
            role=Role.AI_TOOL,
            prompt=prompt,
            task_id=self._task_id,
            tenant=self._tenant,
            deadline=self._context.deadline,
            budget=self._budget(),
        )
        try:
            answer = await self._router.complete(request)
        except BudgetExceeded as exc:
            self.over_budget = self.over_budget or exc.reason
            raise
        except AllProvidersFailed as exc:
            self._spent(exc.usage)
            raise
        self._spent(answer.usage)
        return answer.text

    def _budget(self) -> Budget:
        limits = self._context.request.constraints
        return Budget(
            max_tokens=limits.max_llm_tokens,
            max_cost_usd=limits.max_cost_usd,
            spent=self._context.spent + self.usage,
        )

    def _spent(self, usage: Usage) -> None:
        self.usage = self.usage + usage
        # The router sizes each answer to fit, but a model can still answer longer than estimated.
        self.over_budget = self.over_budget or over_budget(self._budget(), "the ai_tool calls")
