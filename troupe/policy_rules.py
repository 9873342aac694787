"""Tenant policy applied to a plan: what it refuses, and which steps wait for a person.

Pure, and shared like `plan_rules`: the planner's validator uses it as a gate, and the executor applies it
again before running a step, with the policy it read itself.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlsplit

from schemas import Plan, PlanStep
from schemas.policy import TenantPolicy
from toolbox.egress import host_listed

__all__ = ["approval_reasons", "host_allowed", "plan_hash", "policy_problems"]


def plan_hash(plan: Plan) -> str:
    """What an approval is for: the steps (tool, arguments, dependencies) and nothing a person cannot see."""
    steps = [{"id": s.id, "tool": s.tool, "args": s.args, "depends_on": s.depends_on} for s in plan.steps]
    return hashlib.sha256(json.dumps(steps, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def host_allowed(host: str, allowlist: list[str] | None) -> bool:
    return allowlist is None or host_listed(host, allowlist)


def _url_host(step: PlanStep) -> str | None:
    url = step.args.get("url")
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def policy_problems(plan: Plan, policy: TenantPolicy) -> list[str]:
    """Every refusal names the rule, so a person can tell which setting to ask the operator about."""
    problems = []
    if policy.max_steps_per_plan is not None and len(plan.steps) > policy.max_steps_per_plan:
        problems.append(
            f"the plan has {len(plan.steps)} steps; tenant policy max_steps_per_plan allows "
            f"{policy.max_steps_per_plan}"
        )
    for step in plan.steps:
        if policy.allowed_tools is not None and step.tool not in policy.allowed_tools:
            problems.append(
                f"step {step.id!r} uses tool {step.tool!r}, which tenant policy allowed_tools does not allow "
                f"(allowed: {', '.join(policy.allowed_tools) or 'none'})"
            )
        elif step.tool == "http_client":
            host = _url_host(step)
            if host is not None and not host_allowed(host, policy.egress_hosts):
                problems.append(
                    f"step {step.id!r} reaches host {host!r}, which tenant policy egress_hosts does not allow"
                )
    return problems


def approval_reasons(plan: Plan, policy: TenantPolicy) -> list[str]:
    """Why the plan waits for a person, one reason per gated step; empty when it may run at once."""
    rules = policy.approvals
    reasons = []
    for step in plan.steps:
        if step.tool in rules.tools:
            reasons.append(f"step {step.id!r} uses {step.tool}, which needs approval (approvals.tools)")
        elif rules.file_writes and step.tool == "file_operations" and step.args.get("op") == "write":
            reasons.append(f"step {step.id!r} writes a file, which needs approval (approvals.file_writes)")
        elif rules.hosts_outside is not None and step.tool == "http_client":
            host = _url_host(step)
            if host is None or not host_allowed(host, rules.hosts_outside):
                reasons.append(
                    f"step {step.id!r} reaches {host or 'an unreadable URL'}, outside approvals.hosts_outside, "
                    "which needs approval"
                )
    return reasons
