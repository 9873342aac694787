"""A Kafka consumer that keeps many records in flight per process, in order per key.

Partitions no longer bound concurrency: each record is handed to its key's queue (a task's events share a key,
its task id), and every key with work has one asyncio task draining its queue in offset order. So a task waiting
seconds for an LLM holds up only its own later events, never the other tasks on its partition.

- **Bounded.** At most `limit` records are held (being handled or queued behind their key). At the limit every
  assigned partition is paused; it resumes as soon as there is room, so nothing is buffered without bound.
- **Commit watermark.** Offsets are committed per partition up to the lowest unfinished one
  (`OffsetWatermark`), in the background every `commit_interval_s`, so a crash redelivers whatever had not
  finished: delivery stays at-least-once, which the stage ledger already absorbs.
- **Rebalance.** A revoked partition takes no new work; its running records get `revoke_grace_s` to finish,
  its finished offsets are committed, and what is left is cancelled, to be redelivered to the new owner.

The design and the alternatives weighed are in docs/decisions/0011-parallel-consumer.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from troupe.logs import get_logger
from troupe.offset_watermark import OffsetWatermark

__all__ = ["ParallelConsumer", "Process"]

Record: TypeAlias = ConsumerRecord[bytes, bytes]
# Handles one record; it must not raise (troupe.consuming retries and dead-letters), only be cancelled.
Process = Callable[[Record], Awaitable[None]]
log = get_logger(__name__)


@dataclass
class _Chain:
    """One key's records of one partition, handled one after the other."""

    partition: TopicPartition
    watermark: OffsetWatermark
    records: deque[ConsumerRecord[bytes, bytes]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class ParallelConsumer:
    def __init__(
        self,
        make_consumer: Callable[[], AIOKafkaConsumer],
        routes: Mapping[str, Process],
        *,
        limit: int,
        commit_interval_s: float,
        revoke_grace_s: float,
        fetch_wait_ms: int,
        name: str,
    ) -> None:
        self._make_consumer = make_consumer
        self._routes = dict(routes)
        self._limit = limit
        self._commit_interval_s = commit_interval_s
        self._revoke_grace_s = revoke_grace_s
        self._fetch_wait_ms = fetch_wait_ms
        self.name = name
        self._consumer: AIOKafkaConsumer | None = None
        self._watermarks: dict[TopicPartition, OffsetWatermark] = {}
        self._chains: dict[tuple[TopicPartition, bytes | int], _Chain] = {}
        self._held = 0
        self._peak = 0
        self._room = asyncio.Event()
        self._owed = asyncio.Event()
        self._paused = False
        self._loops: list[asyncio.Task[None]] = []

    @property
    def topics(self) -> Sequence[str]:
        return tuple(self._routes)

    @property
    def in_flight(self) -> int:
        """Records held now: being handled, or queued behind an earlier record of their key."""
        return self._held

    @property
    def peak_in_flight(self) -> int:
        return self._peak

    async def start(self) -> None:
        consumer = self._consumer = self._make_consumer()
        consumer.subscribe(list(self._routes), listener=_Rebalance(self))
        await consumer.start()
        self._loops = [
            asyncio.create_task(self._fetch(consumer), name=f"{self.name}-fetch"),
            asyncio.create_task(self._commit_when_owed(consumer), name=f"{self.name}-commit"),
        ]

    async def stop(self) -> None:
        """Stop fetching, let running work finish within the grace, commit what finished, and leave the group."""
        consumer = self._consumer
        if consumer is None:
            return
        self._consumer = None
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self._settle(list(self._watermarks), consumer)
        await consumer.stop()

    # Fetching: admit records while there is room, pause every partition when there is none.

    async def _fetch(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await self._poll(consumer)
            except KafkaError as exc:
                log.warning("consumer.fetch_failed", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1.0)
                continue
            for partition, records in batches.items():
                watermark = self._watermarks.get(partition)
                if watermark is None or watermark.revoked:
                    continue  # revoked while the fetch was in flight: its new owner reads these
                for record in records:
                    self._admit(partition, watermark, record)

    async def _poll(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, list[Record]]:
        room = self._limit - self._held
        if room > 0:
            self._resume(consumer)
            fetched: dict[TopicPartition, list[Record]]
            fetched = await consumer.getmany(timeout_ms=self._fetch_wait_ms, max_records=room)
            return fetched
        self._pause(consumer)
        self._room.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._room.wait(), timeout=1.0)
        # Polled even while paused, as the group takes a consumer that stops polling for dead. Anything it
        # returns (fetched before the pause) is admitted all the same: skipping it would commit past it.
        fetched = await consumer.getmany(timeout_ms=0)
        return fetched

    def _pause(self, consumer: AIOKafkaConsumer) -> None:
        if not self._paused:
            consumer.pause(*consumer.assignment())
            self._paused = True
            log.info("consumer.paused", consumer=self.name, in_flight=self._held)

    def _resume(self, consumer: AIOKafkaConsumer) -> None:
        if self._paused:
            consumer.resume(*consumer.paused())
            self._paused = False

    def _admit(self, partition: TopicPartition, watermark: OffsetWatermark, record: Record) -> None:
        watermark.started(record.offset)
        self._held += 1
        self._peak = max(self._peak, self._held)
        # A keyless record has no order to keep: it runs on its own.
        chain_key = (partition, record.key if record.key is not None else record.offset)
        chain = self._chains.get(chain_key)
        if chain is None:
            chain = self._chains[chain_key] = _Chain(partition, watermark)
            chain.task = asyncio.create_task(self._drain(chain_key, chain))
        chain.records.append(record)

    async def _drain(self, chain_key: tuple[TopicPartition, bytes | int], chain: _Chain) -> None:
        try:
            while chain.records and not chain.watermark.revoked:
                record = chain.records[0]
                await self._routes[record.topic](record)
                chain.records.popleft()
                chain.watermark.finished(record.offset)
                self._release(1)
                self._owed.set()
        finally:
            # Records left behind belong to a revoked partition (or this was cancelled): never finished here,
            # so the watermark keeps them uncommitted for the next owner.
            self._release(len(chain.records))
            chain.records.clear()
            self._chains.pop(chain_key, None)

    def _release(self, count: int) -> None:
        if count:
            self._held -= count
            self._room.set()

    # Committing: the watermark of every partition that moved, in the background.

    async def _commit_when_owed(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            await self._owed.wait()
            self._owed.clear()
            if not await self._commit(consumer, list(self._watermarks)):
                self._owed.set()  # try again at the next round
            await asyncio.sleep(self._commit_interval_s)

    async def _commit(self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> bool:
        owed = {
            tp: offset
            for tp in partitions
            if (watermark := self._watermarks.get(tp)) is not None
            and (offset := watermark.owed()) is not None
        }
        if not owed:
            return True
        try:
            await consumer.commit(owed)
        except KafkaError as exc:
            # Kafka away or the group rebalancing: the offsets stay owed, and a crash meanwhile only redelivers.
            log.warning("consumer.commit_failed", consumer=self.name, error=repr(exc))
            return False
        for tp, offset in owed.items():
            if (watermark := self._watermarks.get(tp)) is not None:
                watermark.committed = offset
        return True

    # Giving partitions up, on a rebalance or at stop.

    def assigned(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._watermarks[tp] = OffsetWatermark()
        if self._paused and self._consumer is not None:
            self._consumer.pause(*partitions)

    async def revoked(self, partitions: Sequence[TopicPartition]) -> None:
        if self._consumer is not None:
            await self._settle(partitions, self._consumer)

    async def _settle(self, partitions: Sequence[TopicPartition], consumer: AIOKafkaConsumer) -> None:
        gone = set(partitions)
        for tp in gone:
            if (watermark := self._watermarks.get(tp)) is not None:
                watermark.revoked = True
        running = [c.task for c in self._chains.values() if c.partition in gone and c.task is not None]
        if running:
            _done, late = await asyncio.wait(running, timeout=self._revoke_grace_s)
            for task in late:
                task.cancel()
            if late:
                log.warning("consumer.work_given_up", consumer=self.name, records=len(late))
                await asyncio.gather(*late, return_exceptions=True)
        await self._commit(consumer, list(gone))
        for tp in gone:
            self._watermarks.pop(tp, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: ParallelConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._owner.revoked(list(revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._owner.assigned(list(assigned))
