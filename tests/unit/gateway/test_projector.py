"""The projector over the in-memory store: replicas that race, and redeliveries after a crash, lose nothing."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from gateway_svc.projection import TracedEvent
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from gateway_svc.task_state import LogEntry, TaskState, TaskStatus
from tests.unit.gateway.events import happy_path


class YieldingStore(InMemoryTaskStore):
    """Every call gives way to the other coroutines first, so replicas interleave at each store call."""

    async def append(self, task_id: str, slot: int, events: Sequence[TracedEvent]) -> bool:
        await asyncio.sleep(0)
        return await super().append(task_id, slot, events)

    async def slot(self, task_id: str, slot: int) -> list[TracedEvent] | None:
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
    assert sorted(store.stored_events()) == sorted(e.event_id for e in events)  # each event stored once


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
    assert sorted(store.stored_events()) == sorted(e.event_id for e in events)


async def test_events_appended_before_a_failure_to_write_the_task_are_written_when_they_come_again() -> None:
    store = CrashingStore()
    submitted = happy_path("t1")[0]
    with pytest.raises(ConnectionError):
        await Projector(store).apply(submitted)
    assert await store.load("t1") is None and store.stored_events() == [submitted.event_id]
    state = await Projector(store).apply(submitted)
    assert state is not None and state.applied_events == [submitted.event_id]
    assert await store.load("t1") == state


async def test_a_duplicate_changes_nothing_whether_remembered_or_not() -> None:
    store = InMemoryTaskStore()
    events = happy_path("t1")
    projector = Projector(store)
    for event in events:
        await projector.apply(event)
    assert await projector.apply(events[1]) is None
    assert await Projector(store).apply(events[1]) is None  # another replica: reads the stored task
    assert sorted(store.stored_events()) == sorted(e.event_id for e in events)


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


async def test_a_replica_remembers_at_most_its_bound_and_forgets_ended_tasks_first() -> None:
    store = CountingStore()
    projector = Projector(store, remembered=3)
    for n in range(10):
        await projector.apply(happy_path(f"t{n}")[0])  # submitted: still running
    assert projector.remembered_tasks == 3  # t7, t8, t9
    for event in happy_path("t9")[1:]:  # t9 ends
        await projector.apply(event)
    state = await store.load("t9")
    assert state is not None and state.terminal and state.revision == len(happy_path("t9"))
    await projector.apply(happy_path("t10")[0])  # no room: the ended t9 goes, not the running t7 or t8
    loads = store.calls["load"]
    for task_id in ("t7", "t8"):
        await projector.apply(happy_path(task_id)[1])
    assert store.calls["load"] == loads  # both still remembered


class CountingStore(YieldingStore):
    """Counts the store's round trips by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {"append": 0, "slot": 0, "put": 0, "load": 0}
        self.round_trips: dict[str, int] = {"append_many": 0, "put_many": 0}

    async def append_many(self, slots: Sequence[tuple[str, int, Sequence[TracedEvent]]]) -> list[bool]:
        self.round_trips["append_many"] += 1
        return await super().append_many(slots)

    async def put_many(self, states: Sequence[tuple[TaskState, list[LogEntry]]]) -> None:
        self.round_trips["put_many"] += 1
        await super().put_many(states)

    async def load(self, task_id: str) -> TaskState | None:
        self.calls["load"] += 1
        return await super().load(task_id)

    async def append(self, task_id: str, slot: int, events: Sequence[TracedEvent]) -> bool:
        self.calls["append"] += 1
        return await super().append(task_id, slot, events)

    async def slot(self, task_id: str, slot: int) -> list[TracedEvent] | None:
        self.calls["slot"] += 1
        return await super().slot(task_id, slot)

    async def put(self, state: TaskState, log: list[LogEntry]) -> None:
        self.calls["put"] += 1
        await super().put(state, log)


async def test_a_batch_writes_each_task_once_however_many_of_its_events_it_holds() -> None:
    store = CountingStore()
    tasks = [happy_path(f"t{n}") for n in range(3)]
    batch = [(event, None) for events in zip(*tasks, strict=True) for event in events]  # interleaved
    states = await Projector(store).apply_many(batch)
    assert sorted(s.task_id for s in states) == ["t0", "t1", "t2"]
    assert store.calls["put"] == 3
    assert store.calls["append"] == 3  # one slot per task, however many of its events the batch holds
    for n, events in enumerate(tasks):
        state = await store.load(f"t{n}")
        assert state is not None and state.status is TaskStatus.SUCCEEDED
        assert sorted(state.applied_events) == sorted(e.event_id for e in events)


async def test_a_batch_with_duplicates_keeps_each_event_once() -> None:
    store = InMemoryTaskStore()
    events = happy_path("t1")
    projector = Projector(store)
    await projector.apply_many([(e, None) for e in events[:3]])
    states = await projector.apply_many([(e, None) for e in [*events, *events]])
    assert len(states) == 1 and states[0].revision == len(events)
    assert sorted(store.stored_events()) == sorted(e.event_id for e in events)
    assert await projector.apply_many([(e, None) for e in events]) == []


@pytest.mark.parametrize("seed", range(3))
async def test_batches_from_two_replicas_lose_no_event(seed: int) -> None:
    store = YieldingStore()
    tasks = {f"t{n}": happy_path(f"t{n}") for n in range(4)}
    events = [e for task in tasks.values() for e in task]
    random.Random(seed).shuffle(events)
    halves = [[(e, None) for e in events[i::2]] for i in (0, 1)]
    chunks = [h[j : j + 5] for h in halves for j in range(0, len(h), 5)]
    replicas = [Projector(store), Projector(store)]
    await asyncio.gather(*(replicas[i % 2].apply_many(chunk) for i, chunk in enumerate(chunks)))
    for task_id, task in tasks.items():
        state = await store.load(task_id)
        assert state is not None and state.status is TaskStatus.SUCCEEDED
        assert sorted(state.applied_events) == sorted(e.event_id for e in task)
    assert sorted(store.stored_events()) == sorted(e.event_id for e in events)


async def test_events_after_a_task_ended_are_not_read_back_while_there_is_room() -> None:
    store = CountingStore()
    projector = Projector(store)
    events = happy_path("t1")
    finished = events.pop()
    late = events.pop(2)  # the projection read the other topics first
    for event in [*events, finished]:
        await projector.apply(event)
    reads_before = store.calls["slot"] + store.calls["load"]
    state = await projector.apply(late)
    assert state is not None and state.terminal and state.revision == len(events) + 2
    assert store.calls["slot"] + store.calls["load"] - reads_before == 1  # only the check after writing


async def test_a_task_with_nothing_stored_costs_no_lookup_before_its_first_append() -> None:
    store = CountingStore()
    await Projector(store).apply(happy_path("t1")[0])
    # Append as slot 0 (free: nothing stored), write the task, check that slot 1 is still free.
    assert store.calls == {"slot": 1, "append": 1, "put": 1, "load": 0}


async def test_a_task_not_remembered_whose_first_slot_is_taken_is_read_back_and_loses_nothing() -> None:
    store = CountingStore()
    events = happy_path("t1")
    await Projector(store).apply_many([(e, None) for e in events[:3]])
    state = await Projector(store).apply(events[3])  # another replica, or this one after a restart
    assert state is not None and state.revision == 4
    assert sorted(store.stored_events()) == sorted(e.event_id for e in events[:4])


async def test_a_batch_appends_the_slots_and_writes_the_states_of_its_tasks_in_one_call_each() -> None:
    store = CountingStore()
    projector = Projector(store)
    tasks = [happy_path(f"t{n}") for n in range(3)]
    for step in range(2):
        await projector.apply_many([(events[step], None) for events in tasks])
    assert store.round_trips == {"append_many": 2, "put_many": 2}
    assert store.calls["slot"] == 6  # the check after writing, per task and batch
