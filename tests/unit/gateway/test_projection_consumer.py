"""What the projection's reader takes from raw Kafka records, and how it outlives its own failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pymongo.errors import ServerSelectionTimeoutError

from gateway_svc import projection_consumer
from gateway_svc.projection import TracedEvent
from gateway_svc.projection_consumer import ProjectionConsumer
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from schemas import TaskRequest, TaskSubmitted, encode_event
from troupe.settings import Settings

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _record(
    value: bytes, headers: list[tuple[str, bytes | None]], offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t.tasks.submitted",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"t1",
        value=value,
        checksum=None,
        serialized_key_size=2,
        serialized_value_size=len(value),
        headers=headers,
    )


def test_records_with_odd_headers_or_unreadable_values_do_not_stop_the_reader() -> None:
    reader = ProjectionConsumer(Settings(), Projector(InMemoryTaskStore()))
    event = TaskSubmitted(task_id="t1", tenant="acme", request=TaskRequest(description="x"))
    events, parents = reader._read(
        [
            _record(encode_event(event), [("traceparent", None)]),  # a null header value is legal on the wire
            _record(b"not json", [], offset=1),
            _record(encode_event(event), [("traceparent", TRACEPARENT)], offset=2),
        ]
    )
    assert [(e.event_id, trace) for e, trace in events] == [
        (event.event_id, None),
        (event.event_id, "0af7651916cd43dd8448eb211c80319c"),
    ]
    assert set(parents) == {event.event_id}


class FlakyConsumer:
    """A partition of records behind aiokafka's reading calls; each commit fails while `commit_failures`
    lasts, with an error no one foresaw."""

    def __init__(self, records: list[ConsumerRecord[bytes, bytes]], commit_failures: int) -> None:
        self.tp = TopicPartition("t.tasks.submitted", 0)
        self.records = records
        self.position = 0
        self.committed = 0
        self.commit_failures = commit_failures

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        batch = self.records[self.position : self.position + max_records]
        if not batch:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        self.position += len(batch)
        return {self.tp: batch}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.commit_failures:
            self.commit_failures -= 1
            raise RuntimeError("unforeseen")
        self.committed = offsets[self.tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.position = offset


async def _eventually(done: Any, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(5):
        while not done():
            assert not task.done(), task
            await asyncio.sleep(0.01)


async def _run_until(reader: ProjectionConsumer, consumer: FlakyConsumer, done: Any) -> None:
    task = asyncio.create_task(reader._run(cast(AIOKafkaConsumer, consumer)))
    reader._task = task
    try:
        await _eventually(done, task)
    finally:
        task.cancel()


async def test_an_unforeseen_failure_rereads_the_batch_instead_of_ending_the_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(projection_consumer, "_PAUSE_S", 0)
    monkeypatch.setattr(projection_consumer, "_POLL_MS", 10)
    store = InMemoryTaskStore()
    reader = ProjectionConsumer(Settings(), Projector(store))
    event = TaskSubmitted(task_id="t1", tenant="acme", request=TaskRequest(description="x"))
    consumer = FlakyConsumer([_record(encode_event(event), [])], commit_failures=2)
    await _run_until(reader, consumer, lambda: consumer.committed == 1)
    assert reader.alive()
    assert "t1" in store.tasks


async def test_a_reader_that_keeps_failing_says_it_is_not_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projection_consumer, "_PAUSE_S", 0)
    monkeypatch.setattr(projection_consumer, "_POLL_MS", 10)
    reader = ProjectionConsumer(Settings(), Projector(InMemoryTaskStore()))
    assert not reader.alive()  # not started
    event = TaskSubmitted(task_id="t1", tenant="acme", request=TaskRequest(description="x"))
    consumer = FlakyConsumer([_record(encode_event(event), [])], commit_failures=1_000)
    await _run_until(reader, consumer, lambda: not reader.alive())
    assert consumer.committed == 0


class SlowCommits(FlakyConsumer):
    """Commits that do not end until `released` is set, like a group coordinator that is slow to answer."""

    def __init__(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        super().__init__(records, commit_failures=0)
        self.released = asyncio.Event()
        self.commits: list[int] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self.released.wait()
        self.commits.append(offsets[self.tp])
        await super().commit(offsets)


def _submitted(*task_ids: str) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        _record(
            encode_event(TaskSubmitted(task_id=t, tenant="acme", request=TaskRequest(description="x"))),
            [],
            offset=i,
        )
        for i, t in enumerate(task_ids)
    ]


async def test_the_next_batch_is_projected_while_the_last_one_is_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(projection_consumer, "_POLL_MS", 10)
    store = InMemoryTaskStore()
    reader = ProjectionConsumer(Settings(), Projector(store), max_records=1)
    consumer = SlowCommits(_submitted("t1", "t2", "t3"))
    task = asyncio.create_task(reader._run(cast(AIOKafkaConsumer, consumer)))
    try:
        # every batch stored and owed (a task is stored a moment before its batch is done)
        await _eventually(lambda: len(store.tasks) == 3 and reader._commits._owed.get(consumer.tp) == 3, task)
        assert consumer.commits == []  # the first commit has not ended yet
        consumer.released.set()
        await _eventually(lambda: consumer.committed == 3, task)
    finally:
        task.cancel()
    # what the batches after the first owed went out in one commit, once the first had ended
    assert consumer.commits == [1, 3]


async def test_a_stopping_reader_commits_what_it_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projection_consumer, "_POLL_MS", 10)
    store = InMemoryTaskStore()
    reader = ProjectionConsumer(Settings(), Projector(store), max_records=1)
    consumer = SlowCommits(_submitted("t1", "t2"))
    task = asyncio.create_task(reader._run(cast(AIOKafkaConsumer, consumer)))
    await _eventually(lambda: len(store.tasks) == 2, task)
    task.cancel()
    consumer.released.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert consumer.committed == 2


class TroubledStore(InMemoryTaskStore):
    """Refuses every append of task `bad` (a bug, say), and is away for the first `outages` appends."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    async def append(self, task_id: str, slot: int, events: Sequence[TracedEvent]) -> bool:
        if self.outages:
            self.outages -= 1
            raise ServerSelectionTimeoutError("no servers")
        if task_id == "bad":
            raise ValueError("cannot store this one")
        return await super().append(task_id, slot, events)


async def test_an_unprojectable_event_is_skipped_and_an_outage_waited_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(projection_consumer, "_PAUSE_S", 0)
    store = TroubledStore(outages=3)
    reader = ProjectionConsumer(Settings(), Projector(store), max_attempts=2)
    records = [
        _record(
            encode_event(TaskSubmitted(task_id=t, tenant="acme", request=TaskRequest(description="x"))), []
        )
        for t in ("t1", "bad", "t2")
    ]
    await reader._project(records)
    assert sorted(store.tasks) == ["t1", "t2"]
    assert store.outages == 0
