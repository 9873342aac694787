"""A tenant's policy: what its tasks may do, what waits for a person, and how much it may have in flight.

An operator sets it; every stage that acts on a task reads it from the database by the event's tenant, so a
forged event cannot carry a looser policy than the one stored.
"""

from __future__ import annotations

from pydantic import Field

from schemas.envelope import EventModel

__all__ = ["ApprovalRules", "TenantPolicy"]


class ApprovalRules(EventModel):
    """Which steps of a plan wait for a person before the executor runs them."""

    tools: list[str] = Field(default_factory=list, description="Every step using one of these tools.")
    file_writes: bool = Field(default=False, description="file_operations steps that write.")
    hosts_outside: list[str] | None = Field(
        default=None,
        description="When set, http_client steps to a host not in this list (exact, or `*.example.com`).",
    )
    timeout_s: int = Field(
        default=3_600, ge=1, le=86_400, description="How long a plan waits; the task's deadline caps it."
    )
    approver_roles: list[str] = Field(
        default_factory=lambda: ["approver", "admin"], description="Roles whose keys may approve or reject."
    )


class TenantPolicy(EventModel):
    tenant: str = Field(min_length=1, max_length=128)
    allowed_tools: list[str] | None = Field(default=None, description="null allows every registered tool.")
    default_allowed_tools: list[str] | None = Field(
        default=None, description="A task's allowed tools when it names none; null means `allowed_tools`."
    )
    egress_hosts: list[str] | None = Field(
        default=None,
        description="Hosts http_client may reach (exact, or `*.example.com`); null allows any public host.",
    )
    approvals: ApprovalRules = Field(default_factory=ApprovalRules)
    max_steps_per_plan: int | None = Field(default=None, ge=1, le=100)
    max_iterations: int | None = Field(default=None, ge=1, le=20)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_tasks_in_flight: int | None = Field(default=None, ge=1)
