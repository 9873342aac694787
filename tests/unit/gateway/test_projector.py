"""The projector over the in-memory store: replicas that race, and redeliveries after a crash, lose nothing."""

from __future__ import annotations

import asyncio
import random

import pytest

from gateway_svc.projection import TracedEvent
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from gateway_svc.task_state import LogEntry, TaskState, TaskStatus
from tests.unit.gateway.events import happy_path


class YieldingStore(InMemoryTaskStore):
    """Every call gives way to the other coroutines first, so replicas interleave at each store call."""

    async def append(self, task_id: str, slot: int, event: TracedEvent) -> bool:
        await asyncio.sleep(0)
        return await super().append(task_id, slot, event)

    async def slot(self, task_id: str, slot: int) -> TracedEvent | None:
        await asyncio.sleep(0)
        return await super().slot(task_id, slot)

    async def put(self, state: TaskState, log: list[LogEntry]) -> None:
        await asyncio.sleep(0)
        await super().put(state, log)


class CrashingStore(YieldingStore):
    """Dies once right after an event was appended, before the task was written."""

    crashes = 1

    async def put(self, state: TaskState, log: list[LogEntry]) -> None:
        if self.crashes:
            self.crashes -= 1
            raise ConnectionError("gone before writing the task")
        await super().put(state, log)


@pytest.mark.parametrize("seed", range(5))
async def test_two_replicas_projecting_one_task_lose_no_event(seed: int) -> None:
    store = YieldingStore()
    replicas = [Projector(store), Projector(store)]
    events = happy_path("t1")
    random.Random(seed).shuffle(events)
    await asyncio.gather(*(replicas[i % 2].apply(e) for i, e in enumerate(events)))
    state = await store.load("t1")
    assert state is not None and state.status is TaskStatus.SUCCEEDED
    assert sorted(state.applied_events) == sorted(e.event_id for e in events)
    in_time_order = sorted(events, key=lambda e: (e.occurred_at, e.event_id))
    assert [e.event_id for e in await store.log_page("t1", 100, None)] == [e.event_id for e in in_time_order]
    assert len(store.slots) == len(events)  # each event stored once


async def test_an_event_redelivered_after_a_crash_is_projected_once() -> None:
    store = CrashingStore()
    events = happy_path("t1")
    with pytest.raises(ConnectionError):
        await Projector(store).apply(events[0])
    restarted = Projector(store)
    for event in events:
        await restarted.apply(event)
    state = await store.load("t1")
    assert state is not None and state.revision == len(events)
    assert len(store.slots) == len(events)


async def test_a_duplicate_changes_nothing_whether_remembered_or_not() -> None:
    store = InMemoryTaskStore()
    events = happy_path("t1")
    projector = Projector(store)
    for event in events:
        await projector.apply(event)
    assert await projector.apply(events[1]) is None
    assert await Projector(store).apply(events[1]) is None  # another replica: reads the stored task
    assert len(store.slots) == len(events)


async def test_a_replica_that_forgot_a_task_reads_its_log_back() -> None:
    store = InMemoryTaskStore()
    events = happy_path("t1")
    first, second = Projector(store, remembered=1), Projector(store)
    await first.apply(events[0])
    await first.apply(happy_path("t2")[0])  # pushes t1 out of the first replica's memory
    for event in events[1:-1]:
        await second.apply(event)
    state = await first.apply(events[-1])
    assert state is not None and state.revision == len(events)
    assert sorted(state.applied_events) == sorted(e.event_id for e in events)


async def test_a_replica_remembers_only_running_tasks_and_at_most_its_bound() -> None:
    store = InMemoryTaskStore()
    projector = Projector(store, remembered=3)
    for n in range(10):
        await projector.apply(happy_path(f"t{n}")[0])  # submitted: still running
    assert projector.remembered_tasks == 3
    for event in happy_path("t9")[1:]:  # t9 ends
        await projector.apply(event)
    assert projector.remembered_tasks == 2
    state = await store.load("t9")
    assert state is not None and state.terminal and state.revision == len(happy_path("t9"))
