"""The events of a plan that waits for a person: the wait, and the answer that ends it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from schemas.envelope import Envelope

__all__ = ["ApprovalDecided", "ApprovalDecision", "PlanAwaitingApproval"]


class PlanAwaitingApproval(Envelope):
    """The executor holds the iteration's plan until a person approves this plan hash, or the wait expires."""

    type: Literal["plan.awaiting_approval"] = "plan.awaiting_approval"
    plan_hash: str = Field(min_length=64, max_length=64, description="What an approval must name.")
    reasons: list[str] = Field(min_length=1, description="Why the plan waits, one line per gated step.")
    expires_at: datetime = Field(description="When the task ends timed_out if no one answered.")
    expiry_reason: str = Field(max_length=2_000, description="What the task's end says if the wait expires.")
    approver_roles: list[str] = Field(description="Roles whose keys may answer.")


class ApprovalDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"


class ApprovalDecided(Envelope):
    """A person's answer to a waiting plan (from the gateway), or its expiry (from the executor).

    Only the first decision recorded for a task's iteration counts; the executor acts on this event only if
    it is that record.
    """

    type: Literal["approval.decided"] = "approval.decided"
    plan_hash: str = Field(min_length=64, max_length=64)
    decision: ApprovalDecision
    comment: str = Field(default="", max_length=2_000)
    decided_by: str = Field(min_length=1, max_length=128, description="The API key id, or 'executor'.")
    role: str | None = Field(default=None, max_length=64, description="The key's role when it decided.")
