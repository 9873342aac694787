"""What the reviewer's deterministic verifiers found about each step's output, and the evidence they used."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, JsonValue

from schemas.envelope import EventModel
from schemas.plan import STEP_ID_PATTERN

__all__ = ["Finding", "FindingStatus"]


class FindingStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    UNVERIFIABLE = "unverifiable"


class Finding(EventModel):
    """One check of one step's output. A failed or unverifiable finding keeps a task from being approved."""

    id: str = Field(max_length=160, description="`<step id>:<check>`, what a verdict cites.")
    step_id: str = Field(pattern=STEP_ID_PATTERN)
    tool: str = Field(max_length=64)
    check: str = Field(max_length=64, description="What was checked, e.g. `path_edges`, `exit_code`.")
    status: FindingStatus
    detail: str = Field(default="", max_length=2_000)
    evidence: dict[str, JsonValue] = Field(
        default_factory=dict, description="What the check looked at: the edges checked, the artefact id, ..."
    )
