"""What a call costs: USD per million tokens, from the operator's price table, else free when the
configuration says so, else the genai-prices catalogue (bundled data, no network). A model none of them
prices has no price (None), never a price of $0."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal

import genai_prices
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FREE", "Price", "catalogue_price", "find_price"]

# Our provider names where the catalogue's differ.
_CATALOGUE_PROVIDER = {"gemini": "google"}
# Priced at this many tokens, within every model's first tier (some charge more above 200k prompt tokens).
_SAMPLE_TOKENS = 1_000


class Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)

    def cost(self, tokens_in: int, tokens_out: int) -> float:
        return (tokens_in * self.input_per_mtok + tokens_out * self.output_per_mtok) / 1_000_000


FREE = Price()


def find_price(operator: Mapping[str, Price], provider: str, model: str, *, free: bool) -> Price | None:
    """The operator's price for `provider:model` or `model`, else FREE when configured free, else the
    catalogue's; None when nobody knows."""
    found = operator.get(f"{provider}:{model}") or operator.get(model)
    if found is not None:
        return found
    return FREE if free else catalogue_price(provider, model)


@functools.cache
def catalogue_price(provider: str, model: str) -> Price | None:
    """genai-prices' list price of the model at `provider` (today's; it never fetches updates unless asked)."""
    provider_id = _CATALOGUE_PROVIDER.get(provider, provider)
    try:
        prompt = _usd(provider_id, model, genai_prices.Usage(input_tokens=_SAMPLE_TOKENS))
        answer = _usd(provider_id, model, genai_prices.Usage(output_tokens=_SAMPLE_TOKENS))
    except LookupError:
        return None
    scale = Decimal(1_000_000 // _SAMPLE_TOKENS)
    return Price(input_per_mtok=float(prompt * scale), output_per_mtok=float(answer * scale))


def _usd(provider_id: str, model: str, usage: genai_prices.Usage) -> Decimal:
    return genai_prices.calc_price(usage, model, provider_id=provider_id).total_price
