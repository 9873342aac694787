"""The consumer's retry rule, through FastStream's in-memory broker: an outage is waited out, a failing handler
is dead-lettered after its attempts.

TestKafkaBroker hands each publish to the subscriber as the same record (partition 0, offset 0) and raises what
the handler raised, so publishing one message n times is n deliveries of it, as Kafka's redelivery after a nack
would be. The real redelivery is shown in tests/integration/test_consumer_retries.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from pymongo.errors import ServerSelectionTimeoutError

from schemas import TaskRequest, TaskSubmitted, encode_event
from troupe import consuming
from troupe.consuming import subscribe_events
from troupe.dead_letters import RecordingDeadLetters
from troupe.settings import Settings

EVENT = TaskSubmitted(task_id="t-1", request=TaskRequest(description="d"))
TOPIC = "unit.tasks.submitted"


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The pauses the consumer asked for, instead of sleeping through them."""
    asked: list[float] = []
    real = consuming._backoff_s

    def noted(attempt: int) -> float:
        asked.append(real(attempt))
        return 0.0

    monkeypatch.setattr(consuming, "_backoff_s", noted)
    return asked


def failing(*outcomes: Exception | None) -> tuple[Callable[[TaskSubmitted], Awaitable[None]], list[str]]:
    """A handler that raises each of `outcomes` in turn (None: succeeds that time), then succeeds; and the
    list of task ids it completed."""
    queue: list[Exception | None] = list(outcomes)
    done: list[str] = []

    async def handler(event: TaskSubmitted) -> None:
        error = queue.pop(0) if queue else None
        if error is not None:
            raise error
        done.append(event.task_id)

    return handler, done


async def deliver(broker: KafkaBroker, times: int) -> list[Exception]:
    raised = []
    async with TestKafkaBroker(broker) as test_broker:
        for _ in range(times):
            try:
                await test_broker.publish(encode_event(EVENT), TOPIC, key=b"t-1")
            except Exception as exc:  # the nack: Kafka would deliver it again
                raised.append(exc)
    return raised


def subscribed(
    handler: Callable[[TaskSubmitted], Awaitable[None]], attempts: int = 5
) -> tuple[KafkaBroker, RecordingDeadLetters]:
    broker, letters = KafkaBroker(), RecordingDeadLetters()
    subscribe_events(
        broker,
        Settings(handler_max_attempts=attempts),
        TOPIC,
        group="unit",
        handler=handler,
        expected=(TaskSubmitted,),
        dead_letters=letters,
    )
    return broker, letters


async def test_an_outage_longer_than_the_attempts_is_retried_until_it_ends(no_pauses: list[float]) -> None:
    handler, done = failing(*[ServerSelectionTimeoutError("no servers")] * 12)
    broker, letters = subscribed(handler, attempts=5)

    raised = await deliver(broker, 13)

    assert len(raised) == 12 and all(isinstance(e, ServerSelectionTimeoutError) for e in raised)
    assert done == ["t-1"]
    assert letters.letters == []
    assert no_pauses[:6] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert max(no_pauses) == 5.0  # capped: a long outage is polled every 5 s, not ever more slowly


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_its_attempts() -> None:
    handler, done = failing(*[ValueError("bug")] * 10)
    broker, letters = subscribed(handler, attempts=3)

    raised = await deliver(broker, 3)

    assert len(raised) == 2  # the third failure is dead-lettered and committed, not raised
    assert done == []
    [letter] = letters.letters
    assert letter.reason == "handler failed 3 times, last with ValueError: bug"
    assert letter.task_id == "t-1"


async def test_outage_failures_do_not_count_towards_the_dead_letter() -> None:
    outage = [ServerSelectionTimeoutError("no servers")] * 6
    handler, done = failing(ValueError("once"), *outage, ValueError("twice"), *outage)
    broker, letters = subscribed(handler, attempts=3)

    await deliver(broker, 15)

    assert done == ["t-1"]
    assert letters.letters == []


async def test_after_a_success_the_count_starts_again() -> None:
    handler, done = failing(ValueError("1"), ValueError("2"), None, ValueError("3"), ValueError("4"))
    broker, letters = subscribed(handler, attempts=3)

    await deliver(broker, 6)

    assert done == ["t-1", "t-1"]
    assert letters.letters == []
