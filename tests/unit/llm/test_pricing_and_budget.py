from __future__ import annotations

import socket

import pytest

from schemas import TaskConstraints, TaskRequest, Usage
from troupe.llm import Budget, BudgetExceeded
from troupe.llm.budget import affordable_output_tokens, estimate_tokens, over_budget
from troupe.llm.config import ChainLink, LLMSettings, Role, parse_chain
from troupe.llm.price_check import unpriced_refusal
from troupe.llm.pricing import FREE, Price, catalogue_price

PRICE = Price(input_per_mtok=1.0, output_per_mtok=10.0)


def test_cost_is_tokens_times_the_price_per_million() -> None:
    assert PRICE.cost(1_000_000, 0) == 1.0
    assert PRICE.cost(2_000, 300) == pytest.approx(0.002 + 0.003)


def settings(**values: object) -> LLMSettings:
    base: dict[str, object] = {"openai_api_key": "k", "gemini_api_key": "k", "mistral_api_key": "k"}
    return LLMSettings(_env_file=None, **{**base, **values})  # type: ignore[arg-type]


def link(text: str) -> ChainLink:
    return parse_chain(text)[0]


def test_the_default_chains_are_priced_from_the_bundled_catalogue_without_any_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("genai-prices tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    catalogue_price.cache_clear()
    assert catalogue_price("openai", "gpt-4o") == Price(input_per_mtok=2.5, output_per_mtok=10.0)
    assert catalogue_price("gemini", "gemini-2.5-pro") == Price(input_per_mtok=1.25, output_per_mtok=10.0)
    assert catalogue_price("mistral", "mistral-small-latest") == Price(
        input_per_mtok=0.15, output_per_mtok=0.6
    )
    s = LLMSettings(_env_file=None)
    assert all(s.price(x) is not None for role in Role for x in s.chain(role) if x.provider != "offline")


def test_the_operator_table_overrides_the_catalogue_provider_specific_first() -> None:
    s = settings(
        prices={"gpt-4o": {"input_per_mtok": 3.0}, "azure:gpt-4o": {"input_per_mtok": 4.0}},
    )
    assert s.price(link("openai:gpt-4o")) == Price(input_per_mtok=3.0)
    assert s.price(link("azure:gpt-4o")) == Price(input_per_mtok=4.0)
    assert s.price(link("openai:gpt-4o-mini")) == catalogue_price("openai", "gpt-4o-mini")


def test_local_and_listed_models_are_free_and_unknown_ones_have_no_price() -> None:
    s = settings(
        free_models="openai:scripted-model, lab:*",
        endpoints={"vllm": {"base_url": "http://127.0.0.1:8000/v1", "free": True}},
    )
    assert s.price(link("ollama:llama3.1")) == FREE
    assert s.price(link("vllm:qwen3")) == FREE
    assert s.price(link("openai:scripted-model")) == FREE
    assert s.price(link("lab:anything")) == FREE
    assert s.price(link("openai:not-a-model")) is None
    assert s.price(link("groq:mystery")) is None


def test_a_cost_budget_with_an_unpriced_model_in_a_chain_is_refused_with_the_reason() -> None:
    s = settings(planner_chain="openai:scripted-model,gemini:gemini-2.5-pro")
    budgeted = TaskRequest(description="x", constraints=TaskConstraints(max_cost_usd=0.5))
    reason = unpriced_refusal(budgeted, s)
    assert reason is not None
    assert reason.startswith(
        "max_cost_usd cannot be kept: no price is known for openai:scripted-model (planner)"
    )
    assert unpriced_refusal(TaskRequest(description="x"), s) is None  # no cost budget, nothing to keep
    assert (
        unpriced_refusal(
            budgeted, settings(free_models="openai:scripted-model", planner_chain="openai:scripted-model")
        )
        is None
    )


def test_only_chains_the_task_can_reach_are_checked() -> None:
    no_ai = TaskConstraints(max_cost_usd=0.5, allowed_tools=["math"])
    s = settings(ai_tool_chain="openai:scripted-model")
    assert unpriced_refusal(TaskRequest(description="x", constraints=no_ai), s) is None
    assert unpriced_refusal(TaskRequest(description="x", constraints=TaskConstraints(max_cost_usd=0.5)), s)
    # A provider without a key is skipped by the router, so its model costs nothing.
    keyless = settings(openai_api_key=None, ai_tool_chain="openai:scripted-model")
    assert (
        unpriced_refusal(TaskRequest(description="x", constraints=TaskConstraints(max_cost_usd=0.5)), keyless)
        is None
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
