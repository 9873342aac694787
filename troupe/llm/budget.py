"""A task's budget of tokens and cost, and the check that refuses a call it cannot pay for."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas import Usage
from troupe.llm.errors import BudgetExceeded
from troupe.llm.pricing import Price

__all__ = ["Budget", "affordable_output_tokens", "estimate_tokens", "over_budget"]

# The smallest answer worth asking for; below it a call can only be cut off mid-sentence.
MIN_OUTPUT_TOKENS = 16


class Budget(BaseModel):
    """Limits for one task and what the task has spent so far (the pipeline keeps the totals in the task
    document, since the planner and reviewer run in different processes). `None` means no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_tokens: int | None = Field(default=None, ge=0)
    max_cost_usd: float | None = Field(default=None, ge=0)
    spent: Usage = Field(default_factory=Usage)


def estimate_tokens(text: str) -> int:
    """A rough token count (about four characters per token) for checking a budget before a call."""
    return len(text) // 4 + 1


def affordable_output_tokens(
    budget: Budget, spent_now: Usage, price: Price, prompt_tokens: int, wanted: int, what: str
) -> int:
    """How many output tokens the call may ask for so that, with its prompt, it stays within the budget.

    Raises BudgetExceeded when not even a minimal answer fits; `what` names the call in the reason.
    """
    spent = budget.spent + spent_now
    allowed = wanted
    if budget.max_tokens is not None:
        left = budget.max_tokens - spent.tokens_in - spent.tokens_out - prompt_tokens
        allowed = min(allowed, left)
        if left < MIN_OUTPUT_TOKENS:
            raise BudgetExceeded(
                f"token budget exceeded: {what} needs about {prompt_tokens} prompt tokens plus an answer, "
                f"but only {max(0, budget.max_tokens - spent.tokens_in - spent.tokens_out)} of "
                f"{budget.max_tokens} tokens are left"
            )
    if budget.max_cost_usd is not None:
        left_usd = budget.max_cost_usd - spent.cost_usd - price.cost(prompt_tokens, 0)
        if price.output_per_mtok > 0:
            allowed = min(allowed, int(left_usd * 1_000_000 / price.output_per_mtok))
        if left_usd < price.cost(0, MIN_OUTPUT_TOKENS):
            raise BudgetExceeded(
                f"cost budget exceeded: {what} would cost at least ${price.cost(prompt_tokens, MIN_OUTPUT_TOKENS):.6f}, "
                f"but only ${max(0.0, budget.max_cost_usd - spent.cost_usd):.6f} of ${budget.max_cost_usd:.6f} is left"
            )
    return max(allowed, MIN_OUTPUT_TOKENS)


def over_budget(budget: Budget, what: str) -> str | None:
    """Why `budget.spent` is beyond a limit, naming `what` spent it; None while within the limits."""
    spent = budget.spent
    tokens = spent.tokens_in + spent.tokens_out
    if budget.max_tokens is not None and tokens > budget.max_tokens:
        return f"token budget exceeded: {what} brought the task to {tokens} of {budget.max_tokens} tokens"
    if budget.max_cost_usd is not None and spent.cost_usd > budget.max_cost_usd:
        return (
            f"cost budget exceeded: {what} brought the task to ${spent.cost_usd:.6f} "
            f"of ${budget.max_cost_usd:.6f}"
        )
    return None
