"""The parallel consumer against the real broker: many records in flight on one partition, in order per key,
committed up to the lowest unfinished offset, paused at its limit, and redelivering only unfinished work
across a rebalance and a kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from troupe.kafka import ensure_topics
from troupe.parallel_consumer import ParallelConsumer, Record
from troupe.settings import Settings


def consumer_for(
    settings: Settings,
    topic: str,
    group: str,
    process: Callable[[Record], Awaitable[None]],
    *,
    limit: int = 1000,
    revoke_grace_s: float = 10.0,
) -> ParallelConsumer:
    def make() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )

    return ParallelConsumer(
        make,
        {topic: process},
        limit=limit,
        commit_interval_s=0.05,
        revoke_grace_s=revoke_grace_s,
        fetch_wait_ms=50,
        name=group,
    )


@asynccontextmanager
async def running(consumer: ParallelConsumer) -> AsyncIterator[ParallelConsumer]:
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def publish(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5)
    await producer.start()
    try:
        sent = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def committed(settings: Settings, topic: str, group: str, partitions: int = 1) -> list[int | None]:
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group)
    await reader.start()
    try:
        return [await reader.committed(TopicPartition(topic, p)) for p in range(partitions)]
    finally:
        await reader.stop()


async def until(condition: Callable[[], bool], within_s: float = 60) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 - the conditions are plain state, polled
            await asyncio.sleep(0.02)


async def test_hundreds_of_records_on_one_partition_run_at_once_in_order_per_key(
    settings: Settings, unique: str
) -> None:
    topic = f"it.{unique}.parallel"
    await ensure_topics(settings, [topic], partitions=1)
    keys, per_key = 200, 5
    records = [(f"task-{k}".encode(), f"{k}:{i}".encode()) for i in range(per_key) for k in range(keys)]
    await publish(settings, topic, records)
    seen: dict[bytes, list[int]] = defaultdict(list)
    now = peak = 0

    async def process(record: Record) -> None:
        nonlocal now, peak
        now += 1
        peak = max(peak, now)
        await asyncio.sleep(0.3)  # a slow call: only concurrency gets 1,000 of them done
        seen[record.key or b""].append(int(record.value.split(b":")[1]))
        now -= 1

    async with running(consumer_for(settings, topic, f"g-{unique}", process)):
        await until(lambda: sum(map(len, seen.values())) == keys * per_key)

    assert peak >= keys, f"only {peak} records were handled at once on one partition"
    assert all(order == list(range(per_key)) for order in seen.values())
    assert await committed(settings, topic, f"g-{unique}") == [keys * per_key]


async def test_offsets_are_committed_only_up_to_the_lowest_unfinished_record(
    settings: Settings, unique: str
) -> None:
    topic = f"it.{unique}.watermark"
    group = f"g-{unique}"
    await ensure_topics(settings, [topic], partitions=1)
    await publish(settings, topic, [(f"k{i}".encode(), b"x") for i in range(20)])
    release = asyncio.Event()
    finished: list[int] = []

    async def process(record: Record) -> None:
        if record.offset == 3:
            await release.wait()
        finished.append(record.offset)

    async with running(consumer_for(settings, topic, group, process)):
        await until(lambda: len(finished) == 19)
        await asyncio.sleep(0.3)  # several commit rounds
        assert await committed(settings, topic, group) == [3]
        release.set()
        await until(lambda: len(finished) == 20)
        async with asyncio.timeout(10):
            while await committed(settings, topic, group) != [20]:  # noqa: ASYNC110
                await asyncio.sleep(0.1)


async def test_fetching_pauses_at_the_limit_and_resumes_with_room(settings: Settings, unique: str) -> None:
    topic = f"it.{unique}.limit"
    await ensure_topics(settings, [topic], partitions=2)
    await publish(settings, topic, [(f"k{i}".encode(), b"x") for i in range(60)])
    gate = asyncio.Event()
    done: list[int] = []
    holding = 0
    most = 0

    async def process(record: Record) -> None:
        nonlocal holding, most
        holding += 1
        most = max(most, holding)
        await gate.wait()
        holding -= 1
        done.append(record.offset)

    consumer = consumer_for(settings, topic, f"g-{unique}", process, limit=10)
    async with running(consumer):
        await until(lambda: holding == 10)
        await asyncio.sleep(0.5)  # fetching goes on around the pause
        assert consumer.in_flight == 10 and most == 10
        assert consumer._consumer is not None and consumer._consumer.paused()
        gate.set()
        await until(lambda: len(done) == 60)

    assert most == 10


async def test_a_rebalance_with_work_in_flight_loses_nothing(settings: Settings, unique: str) -> None:
    topic = f"it.{unique}.rebalance"
    group = f"g-{unique}"
    await ensure_topics(settings, [topic], partitions=4)
    total = 400
    await publish(settings, topic, [(f"task-{i % 50}".encode(), str(i).encode()) for i in range(total)])
    handled: list[int] = []

    async def process(record: Record) -> None:
        await asyncio.sleep(0.05)
        handled.append(int(record.value))

    first = consumer_for(settings, topic, group, process, revoke_grace_s=2)
    second = consumer_for(settings, topic, group, process, revoke_grace_s=2)
    async with running(first):
        await until(lambda: len(handled) >= 20)
        async with running(second):  # joining takes partitions from the first while its work runs
            await until(lambda: set(handled) == set(range(total)))
            async with asyncio.timeout(20):
                while sum(c or 0 for c in await committed(settings, topic, group, 4)) != total:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
        assert first.in_flight == 0


_KILLED_CONSUMER = """
import asyncio, os, sys
from aiokafka import AIOKafkaConsumer
from troupe.parallel_consumer import ParallelConsumer, Record

servers, topic, group, log = sys.argv[1:5]

async def main():
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)

    async def process(record):
        await asyncio.sleep(0.2 if record.offset % 7 else 2.0)  # some records are slow, so many are unfinished
        os.write(out, record.value + b"\\n")

    consumer = ParallelConsumer(
        lambda: AIOKafkaConsumer(bootstrap_servers=servers, group_id=group, enable_auto_commit=False,
                                 auto_offset_reset="earliest", fetch_max_wait_ms=50),
        {topic: process}, limit=1000, commit_interval_s=0.05, revoke_grace_s=1, fetch_wait_ms=50, name=group)
    await consumer.start()
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_kill_9_mid_flight_redelivers_every_unfinished_record(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    topic = f"it.{unique}.kill"
    group = f"g-{unique}"
    await ensure_topics(settings, [topic], partitions=1)
    total = 300
    await publish(settings, topic, [(f"task-{i}".encode(), str(i).encode()) for i in range(total)])
    log = tmp_path / "handled.log"
    victim = await asyncio.create_subprocess_exec(
        *[sys.executable, "-c", _KILLED_CONSUMER, settings.kafka_bootstrap_servers, topic, group, str(log)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        await until(lambda: log.exists() and len(log.read_bytes().splitlines()) >= 100, within_s=180)
    finally:
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
    before = {int(line) for line in log.read_bytes().splitlines()}
    assert len(before) < total, "the kill came after everything was handled"
    [at_kill] = await committed(settings, topic, group)
    assert at_kill is not None and at_kill < total

    handled: set[int] = set()

    async def process(record: Record) -> None:
        handled.add(int(record.value))

    async with running(consumer_for(settings, topic, group, process)):
        await until(lambda: before | handled == set(range(total)))

    # Only what was committed is skipped, and everything committed had been handled before the kill.
    assert set(range(at_kill)) <= before
    assert handled >= set(range(at_kill, total)) - before
