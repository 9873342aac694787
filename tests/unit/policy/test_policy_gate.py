"""A task's limits under its tenant's policy: narrowed, never loosened."""

from __future__ import annotations

from schemas import TaskConstraints
from schemas.policy import TenantPolicy
from troupe.policy_gate import limited, policy_iteration_cap


def test_the_policy_narrows_the_task_tools_iterations_and_cost() -> None:
    task = TaskConstraints(allowed_tools=["math", "python_exec"], max_iterations=5, max_cost_usd=2.0)
    policy = TenantPolicy(
        tenant="t", allowed_tools=["math", "http_client"], max_iterations=2, max_cost_usd=1.0
    )
    narrowed = limited(task, policy)
    assert (narrowed.allowed_tools, narrowed.max_iterations, narrowed.max_cost_usd) == (["math"], 2, 1.0)


def test_the_policy_never_loosens_the_task_own_limits() -> None:
    task = TaskConstraints(max_iterations=1, max_cost_usd=0.1)
    narrowed = limited(task, TenantPolicy(tenant="t", max_iterations=5, max_cost_usd=3.0))
    assert (narrowed.allowed_tools, narrowed.max_iterations, narrowed.max_cost_usd) == (None, 1, 0.1)


def test_a_task_naming_no_tools_gets_the_default_then_the_allowed_tools() -> None:
    policy = TenantPolicy(
        tenant="t", allowed_tools=["math", "file_operations"], default_allowed_tools=["math"]
    )
    assert limited(TaskConstraints(), policy).allowed_tools == ["math"]
    assert limited(TaskConstraints(), TenantPolicy(tenant="t", allowed_tools=["math"])).allowed_tools == [
        "math"
    ]


def test_the_iteration_cap_is_only_the_policy_one_when_lower() -> None:
    assert (
        policy_iteration_cap(TaskConstraints(max_iterations=3), TenantPolicy(tenant="t", max_iterations=1))
        == 1
    )
    assert (
        policy_iteration_cap(TaskConstraints(max_iterations=1), TenantPolicy(tenant="t", max_iterations=3))
        is None
    )
