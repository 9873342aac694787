"""What a stage finds recorded for a redelivered input, and what it publishes again."""

from __future__ import annotations

import asyncio

from schemas import Envelope, FinalStatus, TaskFinished, TaskSubmitted
from schemas.task import TaskRequest
from troupe.ledger import InMemoryLedger, finished_key
from troupe.publishing import RecordingPublisher
from troupe.stages import look_up, replay


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
