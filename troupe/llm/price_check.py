"""The submission rule for cost budgets: a task with `max_cost_usd` whose chains hold a model nobody prices is
refused, since its calls could not be costed and the budget would not hold."""

from __future__ import annotations

from schemas import TaskRequest
from troupe.llm.config import OFFLINE, LLMSettings, Role

__all__ = ["unpriced_refusal"]


def unpriced_refusal(request: TaskRequest, settings: LLMSettings) -> str | None:
    """Why `request` cannot run with its cost budget, or None when every model it may call has a price."""
    if request.constraints.max_cost_usd is None:
        return None
    unpriced = [
        f"{link} ({role.value})"
        for role in _roles(request)
        for link in settings.chain(role)
        if link.provider != OFFLINE and _configured(settings, link.provider) and settings.price(link) is None
    ]
    if not unpriced:
        return None
    return (
        f"max_cost_usd cannot be kept: no price is known for {', '.join(dict.fromkeys(unpriced))}; "
        "set one in TROUPE_LLM_PRICES, mark the model free in TROUPE_LLM_FREE_MODELS, or drop max_cost_usd"
    )


def _roles(request: TaskRequest) -> list[Role]:
    allowed = request.constraints.allowed_tools
    uses_ai_tool = allowed is None or "ai_tool" in allowed
    return [Role.PLANNER, Role.REVIEWER, *([Role.AI_TOOL] if uses_ai_tool else [])]


def _configured(settings: LLMSettings, provider: str) -> bool:
    """Links without a key or base URL are skipped by the router, so they never cost anything."""
    endpoint = settings.all_endpoints().get(provider)
    return endpoint is not None and endpoint.usable
