"""The router's one error hierarchy: what went wrong with a model call, and whether trying later can help.

Provider libraries' exceptions are converted into these at the provider edge, so the router and its callers
never see `openai` or `google-genai` types. `retryable` is the service-level question (redeliver the message
later, or fail the task now); inside one call the router decides fallback and retry by the subclass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from schemas import Usage

__all__ = [
    "AllProvidersFailed",
    "Attempt",
    "BudgetExceeded",
    "DeadlineReached",
    "InvalidOutput",
    "LLMError",
    "NoLLMConfigured",
    "ProviderError",
    "ProviderRejected",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "Refused",
]


class LLMError(Exception):
    """Base of every router error. `reason` is one readable sentence for logs and task documents."""

    retryable: ClassVar[bool] = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderError(LLMError):
    """One provider failed one call; the router moves on to the next link of the chain."""

    retryable = True


class ProviderUnavailable(ProviderError):
    """5xx or a connection error: worth retrying the same provider after a short, jittered wait."""


class RateLimited(ProviderError):
    """429 or an exhausted quota: the provider will not answer soon, so fall back at once."""


class ProviderTimeout(ProviderError):
    """No answer within the per-call timeout; the time is spent, so fall back rather than wait again."""


class ProviderRejected(ProviderError):
    """A 4xx other than 429 (bad key, unknown model, bad request): this provider cannot serve the call."""

    retryable = False


class Refused(ProviderError):
    """The model declined to answer (refusal, safety block, content filter)."""

    retryable = False


class InvalidOutput(ProviderError):
    """The answer is not valid JSON for the requested schema, even after the repair attempt."""

    retryable = False

    def __init__(self, reason: str, *, text: str = "") -> None:
        super().__init__(reason)
        self.text = text


class BudgetExceeded(LLMError):
    """The task's token or cost budget cannot pay for the call; no provider was asked."""


class NoLLMConfigured(LLMError):
    """No provider has a key and the offline mode cannot handle the request; the reason says how to fix it."""


@dataclass(frozen=True)
class Attempt:
    """One link of a chain that did not answer, and why."""

    provider: str
    model: str
    reason: str
    retryable: bool

    def __str__(self) -> str:
        link = self.provider if self.model == self.provider else f"{self.provider}:{self.model}"
        return f"{link}: {self.reason}"


class AllProvidersFailed(LLMError):
    """Every link of the chain failed. Retryable when any failure was transient."""

    def __init__(self, role: str, attempts: list[Attempt], usage: Usage | None = None) -> None:
        listed = "; ".join(str(a) for a in attempts) or "the chain is empty"
        super().__init__(f"no provider answered the {role} call: {listed}")
        self.attempts = attempts
        # Failed attempts can still have spent tokens (an answer that did not validate); the caller bills them.
        self.usage = usage or Usage()

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return any(a.retryable for a in self.attempts)


class DeadlineReached(AllProvidersFailed):
    """The task's deadline passed before a link answered: the rest of the chain is not tried."""

    def __init__(self, role: str, attempts: list[Attempt], usage: Usage | None = None) -> None:
        super().__init__(role, attempts, usage)
        listed = "; ".join(str(a) for a in attempts)
        self.reason = f"the task's deadline cut the {role} chain: {listed}"
        self.args = (self.reason,)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return False
