"""The consumer's retry rule: an outage is waited out, a failing handler is dead-lettered after its attempts,
and in both cases the event is handled in place (`deliver` returns only once it is finished)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiokafka.errors import KafkaConnectionError
from pymongo.errors import ServerSelectionTimeoutError

from schemas import TaskRequest, TaskSubmitted, encode_event
from troupe import consuming
from troupe.boundary import EventRefused
from troupe.consuming import Route, deliver
from troupe.dead_letters import RecordingDeadLetters, RefusedMessage
from troupe.settings import Settings

EVENT = TaskSubmitted(task_id="t-1", request=TaskRequest(description="d"))
MESSAGE = RefusedMessage("unit.tasks.submitted", 0, 7, b"t-1", encode_event(EVENT))


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


async def delivered(
    handler: Callable[[TaskSubmitted], Awaitable[None]], attempts: int = 5, message: RefusedMessage = MESSAGE
) -> RecordingDeadLetters:
    letters = RecordingDeadLetters()
    route = Route(handler, (TaskSubmitted,))  # type: ignore[arg-type]
    await deliver(message, route, Settings(handler_max_attempts=attempts), letters)
    return letters


async def test_an_outage_longer_than_the_attempts_is_retried_until_it_ends(no_pauses: list[float]) -> None:
    handler, done = failing(*[ServerSelectionTimeoutError("no servers")] * 12)

    letters = await delivered(handler, attempts=5)

    assert done == ["t-1"]
    assert letters.letters == []
    assert len(no_pauses) == 12
    assert no_pauses[:6] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert max(no_pauses) == 5.0  # capped: a long outage is polled every 5 s, not ever more slowly


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_its_attempts(
    no_pauses: list[float],
) -> None:
    handler, done = failing(*[ValueError("bug")] * 10)

    letters = await delivered(handler, attempts=3)

    assert len(no_pauses) == 2  # the third failure is dead-lettered, not retried
    assert done == []
    [letter] = letters.letters
    assert letter.reason == "handler failed 3 times, last with ValueError: bug"
    assert letter.task_id == "t-1"
    assert (letter.source_partition, letter.source_offset) == (0, 7)


async def test_outage_failures_do_not_count_towards_the_dead_letter() -> None:
    outage = [ServerSelectionTimeoutError("no servers")] * 6
    handler, done = failing(ValueError("once"), *outage, ValueError("twice"), *outage)

    letters = await delivered(handler, attempts=3)

    assert done == ["t-1"]
    assert letters.letters == []


async def test_a_message_that_is_not_an_event_is_dead_lettered_without_calling_the_handler() -> None:
    handler, done = failing()
    garbage = RefusedMessage("unit.tasks.submitted", 1, 3, b"t-1", b"{not json")

    letters = await delivered(handler, message=garbage)

    assert done == []
    [letter] = letters.letters
    assert letter.source_offset == 3 and letter.reason


async def test_a_dead_letter_written_during_a_kafka_outage_is_retried_until_it_lands() -> None:
    class FlakySink(RecordingDeadLetters):
        refusals = 3

        async def send(self, message: RefusedMessage, reason: str) -> None:
            if self.refusals:
                self.refusals -= 1
                raise KafkaConnectionError("broker away")
            await super().send(message, reason)

    sink = FlakySink()
    route = Route(failing(*[ValueError("bug")] * 5)[0], (TaskSubmitted,))  # type: ignore[arg-type]

    await deliver(MESSAGE, route, Settings(handler_max_attempts=2), sink)

    assert sink.refusals == 0
    assert len(sink.letters) == 1


async def test_an_event_the_records_contradict_is_dead_lettered_at_once(no_pauses: list[float]) -> None:
    handler, done = failing(EventRefused("not the plan.created the pipeline recorded"))

    letters = await delivered(handler, attempts=5)

    assert no_pauses == [] and done == []
    [letter] = letters.letters
    assert letter.reason == "not the plan.created the pipeline recorded"
