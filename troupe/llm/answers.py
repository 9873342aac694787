"""What callers hand the router and what they get back, plus the reviewer's answer schema."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from schemas import Usage, Verdict
from troupe.llm.budget import Budget
from troupe.llm.config import Role
from troupe.llm.errors import Attempt

__all__ = ["LLMAnswer", "LLMRequest", "OfflineAnswer", "Review"]

T = TypeVar("T", bound=BaseModel)

# Called when the chain reaches `offline`: a deterministic answer, or NoLLMConfigured saying why there is none.
OfflineAnswer = Callable[[], "BaseModel | str"]


class Review(BaseModel):
    """The reviewer's answer, from a model or from the offline reviewer."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    feedback: str = Field(default="", max_length=20_000)
    final_result: JsonValue = None
    # Ids of the verifier findings (or steps) the verdict rests on; a model that leaves it out cites none.
    citations: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class LLMRequest(Generic[T]):
    """One call. `tenant` scopes the cache; `deadline` (the task's) cuts the fallback chain when it passes."""

    role: Role
    prompt: str
    schema: type[T] | None = None
    system: str | None = None
    task_id: str | None = None
    tenant: str = "default"
    deadline: datetime | None = None
    budget: Budget = field(default_factory=Budget)
    offline: OfflineAnswer | None = None


@dataclass(frozen=True)
class LLMAnswer(Generic[T]):
    """`usage` is what this call cost, including attempts that failed before the answer; zero on a cache
    hit. `offline` answers come from the deterministic fallback, never from a model."""

    text: str
    parsed: T | None
    provider: str
    model: str
    usage: Usage
    latency_ms: int
    cache_hit: bool = False
    fallback: bool = False
    offline: bool = False
    failed_attempts: tuple[Attempt, ...] = ()

    @property
    def answered_by(self) -> str:
        """`provider:model`, or `offline`: what the events record as planner or reviewer."""
        return "offline" if self.offline else f"{self.provider}:{self.model}"
