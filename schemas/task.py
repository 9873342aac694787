"""What a person asks Troupe to do."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from schemas.envelope import EventModel
from schemas.plan import Plan, Usage

__all__ = ["TaskConstraints", "TaskContext", "TaskRequest"]


class TaskConstraints(EventModel):
    max_duration_s: int = Field(default=600, ge=1, le=86_400, description="Deadline from submission.")
    allowed_tools: list[str] | None = Field(
        default=None, description="Tools the plan may use; null allows every registered tool."
    )
    max_iterations: int = Field(default=3, ge=1, le=20, description="Plan -> Execute -> Review rounds.")
    max_llm_tokens: int | None = Field(default=None, ge=1, description="Token budget over all LLM calls.")
    max_cost_usd: float | None = Field(default=None, gt=0, description="Estimated cost budget in USD.")


class TaskRequest(EventModel):
    description: str = Field(min_length=1, max_length=20_000)
    constraints: TaskConstraints = Field(default_factory=TaskConstraints)
    plan: Plan | None = Field(default=None, description="An explicit plan; the planner validates it.")


class TaskContext(EventModel):
    """What every stage needs to know about its task, carried on the events so no stage reads another's state."""

    request: TaskRequest
    submitted_at: datetime
    deadline: datetime
    spent: Usage = Field(default_factory=Usage, description="LLM usage of the task before this event.")

    def after(self, usage: Usage) -> TaskContext:
        return self.model_copy(update={"spent": self.spent + usage})

    @classmethod
    def starting(cls, request: TaskRequest, submitted_at: datetime) -> TaskContext:
        deadline = submitted_at + timedelta(seconds=request.constraints.max_duration_s)
        return cls(request=request, submitted_at=submitted_at, deadline=deadline)
