"""A task's limits under its tenant's policy, and the gate a plan passes before it may be emitted or run.

Pure, shared by the planner (which gates what it emits) and the executor (which gates what it runs, with the
policy it read itself). The task's own constraints are never loosened: the policy only narrows them.
"""

from __future__ import annotations

from collections.abc import Mapping

from schemas import Plan, TaskConstraints, TaskContext
from schemas.policy import TenantPolicy
from toolbox import ToolSpec
from troupe.plan_rules import plan_problems
from troupe.policy_rules import policy_problems

__all__ = ["gate_problems", "limited", "narrowed", "policy_iteration_cap"]


def _tools(constraints: TaskConstraints, policy: TenantPolicy) -> list[str] | None:
    wanted = constraints.allowed_tools
    if wanted is None:
        wanted = policy.default_allowed_tools
    if wanted is None or policy.allowed_tools is None:
        return wanted if wanted is not None else policy.allowed_tools
    return [tool for tool in wanted if tool in policy.allowed_tools]


def _smaller(task: float | None, policy: float | None) -> float | None:
    return policy if task is None else task if policy is None else min(task, policy)


def limited(constraints: TaskConstraints, policy: TenantPolicy) -> TaskConstraints:
    """The constraints a task runs under: its own, narrowed by the policy's tools, iterations and cost."""
    iterations = constraints.max_iterations
    if policy.max_iterations is not None:
        iterations = min(iterations, policy.max_iterations)
    return constraints.model_copy(
        update={
            "allowed_tools": _tools(constraints, policy),
            "max_iterations": iterations,
            "max_cost_usd": _smaller(constraints.max_cost_usd, policy.max_cost_usd),
        }
    )


def narrowed(context: TaskContext, policy: TenantPolicy) -> TaskContext:
    """The context an LLM call is made under (its tool catalogue and budget); never published, since the
    executor checks a plan's context against the submitted request."""
    request = context.request.model_copy(update={"constraints": limited(context.request.constraints, policy)})
    return context.model_copy(update={"request": request})


def policy_iteration_cap(constraints: TaskConstraints, policy: TenantPolicy) -> int | None:
    """The policy's max_iterations when it is below the task's own, else None."""
    cap = policy.max_iterations
    return cap if cap is not None and cap < constraints.max_iterations else None


def gate_problems(
    plan: Plan, tools: Mapping[str, ToolSpec], constraints: TaskConstraints, policy: TenantPolicy
) -> list[str]:
    """Why the plan may not run for this task under this policy; each problem names the rule it breaks."""
    problems = plan_problems(plan, tools, constraints.allowed_tools) + policy_problems(plan, policy)
    defaults = policy.default_allowed_tools
    if constraints.allowed_tools is None and defaults is not None:
        problems += [
            f"step {step.id!r} uses tool {step.tool!r}, which tenant policy default_allowed_tools does not "
            f"allow for a task that names no allowed_tools (allowed: {', '.join(defaults) or 'none'})"
            for step in plan.steps
            if step.tool not in defaults
        ]
    return problems
