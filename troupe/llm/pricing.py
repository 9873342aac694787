"""Estimated cost of a call from a price table (USD per million tokens), overridable in the settings."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DEFAULT_PRICES", "Price", "estimate_cost", "find_price"]


class Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / 1_000_000


# List prices of the standard tier when the router was written; an estimate, not a bill. Keys are a model
# name or `provider:model` (the latter wins, for a model served at different prices by different providers).
DEFAULT_PRICES: dict[str, Price] = {
    "gemini-2.5-pro": Price(input_per_mtok=1.25, output_per_mtok=10.00),
    "gemini-2.5-flash": Price(input_per_mtok=0.30, output_per_mtok=2.50),
    "gpt-4o": Price(input_per_mtok=2.50, output_per_mtok=10.00),
    "gpt-4o-mini": Price(input_per_mtok=0.15, output_per_mtok=0.60),
    "mistral-small-latest": Price(input_per_mtok=0.10, output_per_mtok=0.30),
}

_FREE = Price()


def find_price(prices: Mapping[str, Price], provider: str, model: str) -> Price:
    """The price of `provider:model`, else of `model`; unknown models (local ones) cost nothing."""
    return prices.get(f"{provider}:{model}") or prices.get(model) or _FREE


def estimate_cost(
    prices: Mapping[str, Price], provider: str, model: str, tokens_in: int, tokens_out: int
) -> float:
    return find_price(prices, provider, model).cost(tokens_in, tokens_out)
