from __future__ import annotations

import pytest

from troupe.llm.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(threshold: int = 2, cooldown: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(failure_threshold=threshold, cooldown_s=cooldown, clock=clock), clock


def test_opens_after_the_threshold_of_consecutive_failures() -> None:
    breaker, _ = make(threshold=2)
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow()


def test_a_success_resets_the_failure_count() -> None:
    breaker, _ = make(threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED


def test_after_the_cooldown_lets_exactly_one_trial_through() -> None:
    breaker, clock = make(cooldown=10)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 9.9
    assert not breaker.allow()
    assert breaker.seconds_until_retry() == pytest.approx(0.1)
    clock.now = 10
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()


def test_a_successful_trial_closes_and_a_failed_one_reopens_for_another_cooldown() -> None:
    breaker, clock = make(cooldown=10)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now = 19
    assert not breaker.allow()
    clock.now = 20
    assert breaker.allow()
    breaker.record_success()
    assert str(breaker.state) == "closed"
    assert breaker.allow() and breaker.allow()


def test_a_cancelled_trial_frees_the_slot_for_the_next_caller() -> None:
    breaker, clock = make(cooldown=1)
    breaker.record_failure()
    breaker.record_failure()
    clock.now = 1
    assert breaker.allow()
    breaker.cancel_trial()
    assert breaker.allow()
