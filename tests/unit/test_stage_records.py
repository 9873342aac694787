"""What a stage records and publishes, what it finds recorded for a redelivered input, and what it
publishes again."""

from __future__ import annotations

import asyncio

import pytest

from schemas import Envelope, FinalStatus, TaskFinished, TaskSubmitted
from schemas.task import TaskRequest
from troupe.ledger import InMemoryLedger, finished_key
from troupe.publishing import RecordingPublisher
from troupe.stages import emit_once, look_up, replay


class BarrierLedger(InMemoryLedger):
    """Every lookup waits until two are in flight: look-ups one after the other would never finish."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = asyncio.Barrier(2)

    async def find(self, key: str) -> Envelope | None:
        await self.barrier.wait()
        return await super().find(key)


def _events() -> tuple[TaskSubmitted, TaskFinished]:
    submitted = TaskSubmitted(task_id="t1", tenant="acme", request=TaskRequest(description="x"))
    end = TaskFinished(task_id="t1", tenant="acme", status=FinalStatus.SUCCEEDED, finished_by="reviewer")
    return submitted, end


async def test_the_output_and_the_end_are_looked_up_at_once() -> None:
    ledger = BarrierLedger()
    output, _ = _events()
    await ledger.record_once("stage:t1:1", output)
    async with asyncio.timeout(2):
        recorded = await look_up(ledger, "t1", "stage:t1:1")
    assert (recorded.output, recorded.end, recorded.anything) == (output, None, True)


async def test_a_redelivered_input_republishes_both_the_output_and_the_end() -> None:
    ledger, publisher = InMemoryLedger(), RecordingPublisher()
    output, end = _events()
    await ledger.record_once("stage:t1:1", output)
    await ledger.record_once(finished_key("t1"), end)
    await replay(publisher, await look_up(ledger, "t1", "stage:t1:1"))
    assert sorted(e.event_id for e in publisher.events) == sorted([output.event_id, end.event_id])


async def test_nothing_recorded_means_nothing_to_replay() -> None:
    ledger, publisher = InMemoryLedger(), RecordingPublisher()
    recorded = await look_up(ledger, "t1", "stage:t1:1")
    assert not recorded.anything
    await replay(publisher, recorded)
    assert publisher.events == []


class HeldPublisher(RecordingPublisher):
    """Publishes only once released, or fails then if told to."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.fail = fail

    async def publish(self, event: Envelope) -> None:
        await self.release.wait()
        if self.fail:
            raise ConnectionError("broker away")
        await super().publish(event)


async def test_the_follow_up_runs_once_the_output_is_recorded_and_while_it_is_published() -> None:
    ledger, publisher = InMemoryLedger(), HeldPublisher()
    output, _ = _events()
    seen: list[Envelope | None] = []

    async def then(stored: Envelope) -> None:
        seen.append(await ledger.find("stage:t1:1"))
        publisher.release.set()  # the publish is still waiting: the follow-up did not wait for it

    async with asyncio.timeout(2):
        stored = await emit_once(ledger, publisher, "stage:t1:1", output, then=then)
    assert stored == output
    assert seen == [output]
    assert publisher.events == [output]


async def test_a_failed_publish_is_raised_after_the_follow_up_has_finished() -> None:
    ledger, publisher = InMemoryLedger(), HeldPublisher(fail=True)
    output, end = _events()

    async def then(stored: Envelope) -> None:
        publisher.release.set()
        await asyncio.sleep(0.01)
        await ledger.record_once(finished_key("t1"), end)

    with pytest.raises(ConnectionError):
        await emit_once(ledger, publisher, "stage:t1:1", output, then=then)
    assert await ledger.find(finished_key("t1")) == end
