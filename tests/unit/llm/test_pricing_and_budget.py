from __future__ import annotations

import pytest

from schemas import Usage
from troupe.llm import Budget, BudgetExceeded
from troupe.llm.budget import affordable_output_tokens, estimate_tokens, over_budget
from troupe.llm.pricing import DEFAULT_PRICES, Price, estimate_cost, find_price

PRICE = Price(input_per_mtok=1.0, output_per_mtok=10.0)


def test_cost_is_tokens_times_the_price_per_million() -> None:
    assert PRICE.cost(1_000_000, 0) == 1.0
    assert PRICE.cost(2_000, 300) == pytest.approx(0.002 + 0.003)


def test_a_provider_specific_price_wins_over_the_model_price_and_unknown_models_are_free() -> None:
    prices = {"gpt-4o": Price(input_per_mtok=2.5), "azure:gpt-4o": Price(input_per_mtok=3.0)}
    assert find_price(prices, "azure", "gpt-4o").input_per_mtok == 3.0
    assert find_price(prices, "openai", "gpt-4o").input_per_mtok == 2.5
    assert estimate_cost(prices, "ollama", "llama3.1", 10_000, 10_000) == 0.0


def test_default_prices_cover_every_default_chain_model() -> None:
    assert {"gemini-2.5-pro", "gemini-2.5-flash", "gpt-4o", "gpt-4o-mini", "mistral-small-latest"} <= set(
        DEFAULT_PRICES
    )


def test_estimate_tokens_is_about_four_characters_each() -> None:
    assert estimate_tokens("x" * 400) == 101


def test_without_limits_the_wanted_output_is_allowed() -> None:
    assert affordable_output_tokens(Budget(), Usage(), PRICE, 1_000, 4_096, "call") == 4_096


def test_the_token_limit_caps_the_output_after_what_was_spent_and_the_prompt() -> None:
    budget = Budget(max_tokens=10_000, spent=Usage(tokens_in=5_000, tokens_out=1_000))
    spent_now = Usage(tokens_in=1_000, tokens_out=500)
    assert affordable_output_tokens(budget, spent_now, PRICE, 1_000, 4_096, "call") == 1_500


def test_a_call_that_cannot_fit_a_minimal_answer_fails_with_a_readable_reason() -> None:
    budget = Budget(max_tokens=1_000, spent=Usage(tokens_in=990))
    with pytest.raises(
        BudgetExceeded, match=r"token budget exceeded: the planner call needs about 5 .* 10 of 1000"
    ):
        affordable_output_tokens(budget, Usage(), PRICE, 5, 4_096, "the planner call")


def test_the_cost_limit_caps_the_output_and_refuses_when_spent() -> None:
    budget = Budget(max_cost_usd=0.01)
    # $0.01 minus $0.001 of prompt leaves $0.009, i.e. 900 output tokens at $10 per million.
    assert affordable_output_tokens(budget, Usage(), PRICE, 1_000, 4_096, "call") == 900
    spent = Budget(max_cost_usd=0.01, spent=Usage(cost_usd=0.0099))
    with pytest.raises(BudgetExceeded, match="cost budget exceeded"):
        affordable_output_tokens(spent, Usage(), PRICE, 1_000, 4_096, "call")


def test_spending_beyond_a_limit_says_which_limit_and_by_what() -> None:
    within = Budget(max_tokens=100, max_cost_usd=1.0, spent=Usage(tokens_in=60, tokens_out=40, cost_usd=1.0))
    assert over_budget(within, "the ai_tool calls") is None
    tokens = within.model_copy(update={"spent": Usage(tokens_in=60, tokens_out=41)})
    assert over_budget(tokens, "the ai_tool calls") == (
        "token budget exceeded: the ai_tool calls brought the task to 101 of 100 tokens"
    )
    cost = within.model_copy(update={"spent": Usage(cost_usd=1.5)})
    assert (over_budget(cost, "x") or "").startswith("cost budget exceeded: x brought the task to $1.5")
