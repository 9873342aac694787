"""Plans and step results: the data the planner, executor and reviewer pass along."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import Field, JsonValue, model_validator

from schemas.artefacts import ArtefactRef
from schemas.envelope import EventModel

__all__ = ["Plan", "PlanError", "PlanStep", "StepResult", "StepStatus", "Usage", "execution_order"]

STEP_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class PlanError(ValueError):
    """A plan whose structure cannot be executed (duplicate ids, unknown dependencies, a cycle)."""


class PlanStep(EventModel):
    id: str = Field(pattern=STEP_ID_PATTERN)
    tool: str = Field(min_length=1, max_length=64)
    args: dict[str, JsonValue] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    description: str = Field(default="", max_length=2_000)


class Plan(EventModel):
    steps: list[PlanStep] = Field(min_length=1, max_length=100)
    rationale: str = Field(default="", max_length=10_000)

    @model_validator(mode="after")
    def _steps_form_a_dag(self) -> Plan:
        execution_order(self.steps)
        return self


def execution_order(steps: Sequence[PlanStep]) -> list[list[str]]:
    """Group step ids into waves: every step runs after all of its dependencies' wave.

    Raises PlanError for duplicate ids, unknown dependencies and cycles.
    """
    ids = [s.id for s in steps]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(f"duplicate step ids: {', '.join(duplicates)}")
    known = set(ids)
    for step in steps:
        unknown = [d for d in step.depends_on if d not in known]
        if unknown:
            raise PlanError(f"step {step.id!r} depends on unknown steps: {', '.join(unknown)}")
    pending = {s.id: set(s.depends_on) for s in steps}
    waves: list[list[str]] = []
    while pending:
        ready = [i for i in ids if i in pending and not pending[i]]
        if not ready:
            raise PlanError(f"steps form a dependency cycle: {', '.join(sorted(pending))}")
        waves.append(ready)
        for i in ready:
            del pending[i]
        for deps in pending.values():
            deps.difference_update(ready)
    return waves


class StepStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


class StepResult(EventModel):
    step_id: str = Field(pattern=STEP_ID_PATTERN)
    tool: str
    status: StepStatus
    output: JsonValue = None
    artefact: ArtefactRef | None = Field(
        default=None,
        description="Where the output is kept when it is too large to travel in events; `output` is then null.",
    )
    output_summary: str = Field(default="", max_length=4_000)
    error: str | None = None
    started_at: datetime | None = None
    duration_ms: int = Field(default=0, ge=0)


class Usage(EventModel):
    """LLM usage of one call or a sum of calls."""

    llm_calls: int = Field(default=0, ge=0)
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            llm_calls=self.llm_calls + other.llm_calls,
            tokens_in=self.tokens_in + other.tokens_in,
            tokens_out=self.tokens_out + other.tokens_out,
            cost_usd=self.cost_usd + other.cost_usd,
        )
