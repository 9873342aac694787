"""Plan rules: a plan is executed only if every step names a known, allowed tool with valid arguments.

Pure, and shared: the planner checks its drafts with them, and the executor checks every plan again before
running it, since a `plan.created` on Kafka is only as trustworthy as whoever could write to the topic.
The plan's structure (unique ids, known dependencies, no cycles) is already checked by `schemas.Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from schemas import Plan
from toolbox import InvalidArguments, ToolSpec, validate_args

__all__ = ["plan_problems"]


def plan_problems(plan: Plan, tools: Mapping[str, ToolSpec], allowed: Sequence[str] | None) -> list[str]:
    problems = []
    for step in plan.steps:
        spec = tools.get(step.tool)
        if spec is None:
            problems.append(
                f"step {step.id!r} uses unknown tool {step.tool!r} (known: {', '.join(sorted(tools))})"
            )
        elif allowed is not None and step.tool not in allowed:
            problems.append(
                f"step {step.id!r} uses tool {step.tool!r}, which the task does not allow "
                f"(allowed: {', '.join(allowed) or 'none'})"
            )
        else:
            try:
                validate_args(spec, step.args)
            except InvalidArguments as exc:
                problems.append(f"step {step.id!r}: {exc}")
    return problems
