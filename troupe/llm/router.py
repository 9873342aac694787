"""The LLM router: one call, answered by the first link of the role's chain that can, cached and accounted.

For each link in turn: skip it when it has no provider (no key) or its circuit is open; check the task's
budget; call it with a per-call timeout, retrying 5xx and connection errors with jittered backoff; validate
structured output and make one repair attempt; on any failure move on to the next link. The last link,
`offline`, asks the request's deterministic fallback: when no provider is configured, or after failures only
when the role's chain names `offline` itself.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from schemas import Usage
from troupe.llm import telemetry
from troupe.llm.answers import LLMAnswer, LLMRequest
from troupe.llm.breaker import CircuitBreaker
from troupe.llm.budget import affordable_output_tokens, estimate_tokens
from troupe.llm.cache import CachedAnswer, CacheStore, cache_key
from troupe.llm.config import OFFLINE, ChainLink, LLMSettings
from troupe.llm.errors import (
    AllProvidersFailed,
    Attempt,
    DeadlineReached,
    InvalidOutput,
    NoLLMConfigured,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    Refused,
)
from troupe.llm.offline import HOW_TO_CONFIGURE
from troupe.llm.pricing import FREE, Price
from troupe.llm.providers.base import Message, Provider, ProviderReply, ProviderRequest
from troupe.llm.structured import describe_errors, parse_answer, repair_message
from troupe.logs import get_logger

__all__ = ["LLMRouter"]

T = TypeVar("T", bound=BaseModel)
log = get_logger("troupe.llm")

NOT_CONFIGURED = "not configured"
UNPRICED = "not tried: no price is known for it, and the task has a cost budget"
DEADLINE_PASSED = "not tried: the task's deadline had passed"
OFFLINE_NOT_AFTER_FAILURE = (
    "not used once a configured provider has failed (name offline in the role's chain to allow that)"
)


class _DeadlineCut(Exception):
    """A call not made, or given up, because the task's deadline came; not the provider's fault."""


@dataclass
class _Spend:
    """Tokens and cost of one `complete` so far, failed attempts included."""

    usage: Usage = field(default_factory=Usage)

    def add(self, reply: ProviderReply, price: Price) -> Usage:
        cost = price.cost(reply.tokens_in, reply.tokens_out)
        call = Usage(llm_calls=1, tokens_in=reply.tokens_in, tokens_out=reply.tokens_out, cost_usd=cost)
        self.usage = self.usage + call
        return call


class LLMRouter:
    """Built once per service by `create_router`; holds the providers, one breaker per provider and the cache."""

    def __init__(
        self,
        settings: LLMSettings,
        providers: Mapping[str, Provider],
        *,
        cache: CacheStore | None = None,
        tracer: trace.Tracer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._providers = dict(providers)
        self._cache = cache if settings.cache_enabled else None
        self._tracer = tracer or trace.get_tracer("troupe.llm")
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, provider: str) -> CircuitBreaker:
        if provider not in self._breakers:
            self._breakers[provider] = CircuitBreaker(
                self._settings.breaker_failures, self._settings.breaker_cooldown_s, self._clock
            )
        return self._breakers[provider]

    async def complete(self, request: LLMRequest[T]) -> LLMAnswer[T]:
        """The answer to `request`; raises BudgetExceeded, NoLLMConfigured or AllProvidersFailed."""
        chain = self._settings.chain(request.role)
        messages = _messages(request)
        schema = _json_schema(request.schema) if request.schema else None
        key = cache_key(request.tenant, request.role, chain, [(m.role, m.content) for m in messages], schema)
        with self._tracer.start_as_current_span(f"llm {request.role.value}") as span:
            span.set_attributes(telemetry.request_attributes(request.role, request.task_id))
            answer = await self._from_cache(key, request)
            if answer is None:
                try:
                    answer = await self._through_chain(request, chain, messages, schema)
                except AllProvidersFailed as exc:
                    # What the failed attempts spent still belongs in the task's totals.
                    span.set_attributes(telemetry.usage_attributes(exc.usage))
                    raise
                if not answer.offline:
                    await self._store(key, answer)
            span.set_attributes(telemetry.answer_attributes(answer, self._system(answer.provider)))
            return answer

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()

    async def _through_chain(
        self, request: LLMRequest[T], chain: list[ChainLink], messages: tuple[Message, ...], schema: Any
    ) -> LLMAnswer[T]:
        started = time.monotonic()
        attempts: list[Attempt] = []
        spend = _Spend()
        for link in chain:
            if link.provider == OFFLINE:
                if request.offline is not None and not self._offline_may_answer(request, attempts):
                    attempts.append(Attempt(OFFLINE, OFFLINE, OFFLINE_NOT_AFTER_FAILURE, retryable=False))
                    break
                return self._offline(request, attempts, spend, started)
            provider = self._providers.get(link.provider)
            if provider is None:
                attempts.append(Attempt(link.provider, link.model, NOT_CONFIGURED, retryable=False))
                continue
            if request.budget.max_cost_usd is not None and self._settings.price(link) is None:
                # Submission refuses such tasks; this catches a chain or price table changed since then.
                attempts.append(Attempt(link.provider, link.model, UNPRICED, retryable=False))
                continue
            if _seconds_left(request.deadline) == 0:
                attempts.append(Attempt(link.provider, link.model, DEADLINE_PASSED, retryable=False))
                raise DeadlineReached(request.role.value, attempts, spend.usage)
            breaker = self.breaker(link.provider)
            if not breaker.allow():
                wait = breaker.seconds_until_retry()
                attempts.append(
                    Attempt(link.provider, link.model, f"circuit open for {wait:.1f}s more", True)
                )
                continue
            try:
                text, parsed = await self._ask(provider, link, request, messages, schema, spend)
            except _DeadlineCut as exc:
                breaker.cancel_trial()
                attempts.append(Attempt(link.provider, link.model, str(exc), retryable=False))
                raise DeadlineReached(request.role.value, attempts, spend.usage) from None
            except ProviderError as exc:
                # A refusal or a bad answer shows the provider is up; only outages count against it.
                if isinstance(exc, InvalidOutput | Refused):
                    breaker.record_success()
                else:
                    breaker.record_failure()
                attempts.append(Attempt(link.provider, link.model, exc.reason, exc.retryable))
                log.warning("llm fallback", role=request.role.value, link=str(link), reason=exc.reason)
                continue
            except BaseException:
                breaker.cancel_trial()
                raise
            breaker.record_success()
            return LLMAnswer(
                text=text,
                parsed=parsed,
                provider=link.provider,
                model=link.model,
                usage=spend.usage,
                latency_ms=_ms_since(started),
                fallback=_fell_back(attempts),
                failed_attempts=tuple(attempts),
            )
        raise AllProvidersFailed(request.role.value, attempts, spend.usage)

    async def _ask(
        self,
        provider: Provider,
        link: ChainLink,
        request: LLMRequest[T],
        messages: tuple[Message, ...],
        schema: Any,
        spend: _Spend,
    ) -> tuple[str, T | None]:
        reply = await self._generate(provider, link, request, messages, schema, spend)
        if request.schema is None:
            if not reply.text.strip():
                raise InvalidOutput("the answer was empty")
            return reply.text, None
        try:
            return reply.text, parse_answer(request.schema, reply.text)
        except ValidationError as exc:
            repair = (*messages, Message("assistant", reply.text), Message("user", repair_message(exc)))
        reply = await self._generate(provider, link, request, repair, schema, spend)
        try:
            return reply.text, parse_answer(request.schema, reply.text)
        except ValidationError as exc:
            raise InvalidOutput(
                f"the answer did not validate after one repair: {describe_errors(exc)}", text=reply.text
            ) from exc

    async def _generate(
        self,
        provider: Provider,
        link: ChainLink,
        request: LLMRequest[T],
        messages: tuple[Message, ...],
        schema: Any,
        spend: _Spend,
    ) -> ProviderReply:
        settings = self._settings
        # Unpriced links are skipped for tasks with a cost budget (see _through_chain); others pay in tokens.
        price = settings.price(link) or FREE
        prompt_tokens = estimate_tokens("".join(m.content for m in messages) + json.dumps(schema or ""))
        max_out = affordable_output_tokens(
            request.budget,
            spend.usage,
            price,
            prompt_tokens,
            settings.max_output_tokens,
            f"the {request.role.value} call to {link}",
        )
        call = ProviderRequest(
            model=link.model,
            messages=messages,
            json_schema=schema,
            schema_name=request.schema.__name__ if request.schema else "answer",
            max_output_tokens=max_out,
            timeout_s=settings.timeout_s,
        )
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.retry_attempts),
            wait=wait_exponential_jitter(initial=settings.retry_initial_s, max=settings.retry_max_s),
            retry=retry_if_exception_type(ProviderUnavailable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._call_once(provider, _within(call, request.deadline), spend, price)
        raise AssertionError("tenacity re-raises the last error")  # pragma: no cover

    async def _call_once(
        self, provider: Provider, call: ProviderRequest, spend: _Spend, price: Price
    ) -> ProviderReply:
        with self._tracer.start_as_current_span(f"chat {call.model}", kind=SpanKind.CLIENT) as span:
            span.set_attributes(telemetry.call_attributes(provider.name, provider.system, call))
            try:
                # The clients have their own timeouts; this one also bounds a server that trickles bytes.
                async with asyncio.timeout(call.timeout_s):
                    reply = await provider.generate(call)
            except TimeoutError as exc:
                if call.timeout_s < self._settings.timeout_s:
                    # The timeout was the time the task had left, not the provider's allowance.
                    cut = _DeadlineCut(
                        f"no answer within the {call.timeout_s:.2f}s left before the task's deadline"
                    )
                    telemetry.record_error(span, ProviderTimeout(str(cut)))
                    raise cut from exc
                error: ProviderError = ProviderTimeout(f"no answer within {call.timeout_s:g}s")
                telemetry.record_error(span, error)
                raise error from exc
            except ProviderError as exc:
                telemetry.record_error(span, exc)
                raise
            usage = spend.add(reply, price)
            span.set_attributes(telemetry.reply_attributes(reply, usage))
            telemetry.record_usage(provider.name, call.model, usage)
            span.set_status(Status(StatusCode.OK))
            return reply

    def _offline_may_answer(self, request: LLMRequest[T], attempts: list[Attempt]) -> bool:
        """Offline stands in for a model nobody configured, not for one that failed: a task that was meant to
        be planned or judged by a model fails, saying why, rather than quietly get the deterministic answer.
        A chain that names `offline` itself asks for it after failures too."""
        return not _fell_back(attempts) or self._settings.offline_named_in_chain(request.role)

    def _offline(
        self, request: LLMRequest[T], attempts: list[Attempt], spend: _Spend, started: float
    ) -> LLMAnswer[T]:
        reason = f"the {request.role.value} role has no offline mode; {HOW_TO_CONFIGURE}"
        if request.offline is not None:
            try:
                result = request.offline()
            except NoLLMConfigured as exc:
                reason = exc.reason
            else:
                text = result.model_dump_json() if isinstance(result, BaseModel) else result
                parsed = request.schema.model_validate_json(text) if request.schema else None
                return LLMAnswer(
                    text=text,
                    parsed=parsed,
                    provider=OFFLINE,
                    model=OFFLINE,
                    usage=spend.usage,
                    latency_ms=_ms_since(started),
                    fallback=_fell_back(attempts),
                    offline=True,
                    failed_attempts=tuple(attempts),
                )
        if not _fell_back(attempts):
            raise NoLLMConfigured(f"no LLM is configured for the {request.role.value} role, and {reason}")
        attempts.append(Attempt(OFFLINE, OFFLINE, reason, retryable=False))
        raise AllProvidersFailed(request.role.value, attempts, spend.usage)

    async def _from_cache(self, key: str, request: LLMRequest[T]) -> LLMAnswer[T] | None:
        if self._cache is None:
            return None
        try:
            cached = await self._cache.get(key)
        # The cache saves money; it must never cost an answer. Any store failure is a miss.
        except Exception as exc:
            log.warning("llm cache read failed", error=repr(exc))
            return None
        if cached is None:
            return None
        try:
            parsed = parse_answer(request.schema, cached.text) if request.schema else None
        except ValidationError:
            return None
        return LLMAnswer(
            text=cached.text,
            parsed=parsed,
            provider=cached.provider,
            model=cached.model,
            usage=Usage(),
            latency_ms=0,
            cache_hit=True,
        )

    async def _store(self, key: str, answer: LLMAnswer[Any]) -> None:
        if self._cache is None:
            return
        entry = CachedAnswer(
            text=answer.text,
            provider=answer.provider,
            model=answer.model,
            tokens_in=answer.usage.tokens_in,
            tokens_out=answer.usage.tokens_out,
            cost_usd=answer.usage.cost_usd,
        )
        try:
            await self._cache.put(key, entry, self._settings.cache_ttl_s)
        except Exception as exc:
            log.warning("llm cache write failed", error=repr(exc))

    def _system(self, provider: str) -> str:
        found = self._providers.get(provider)
        return found.system if found is not None else provider


def _messages(request: LLMRequest[Any]) -> tuple[Message, ...]:
    system = (Message("system", request.system),) if request.system else ()
    return (*system, Message("user", request.prompt))


def _fell_back(attempts: list[Attempt]) -> bool:
    """Whether a link that could have answered did not; links without a key are configuration, not failure."""
    return any(a.reason != NOT_CONFIGURED for a in attempts)


def _seconds_left(deadline: datetime | None) -> float | None:
    """Seconds until the task's deadline (0 once it passed), or None when the call has none."""
    if deadline is None:
        return None
    return max(0.0, (deadline - datetime.now(UTC)).total_seconds())


def _within(call: ProviderRequest, deadline: datetime | None) -> ProviderRequest:
    """The call with its timeout cut to the time the task has left; a passed deadline ends the chain."""
    left = _seconds_left(deadline)
    if left is None or left >= call.timeout_s:
        return call
    if left == 0:
        raise _DeadlineCut("the task's deadline passed before this call")
    return replace(call, timeout_s=left)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@functools.cache
def _schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema())


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A fresh copy of a schema generated once per model: generating it costs milliseconds per call."""
    schema: dict[str, Any] = json.loads(_schema_text(model))
    return schema
