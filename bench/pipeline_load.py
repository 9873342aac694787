"""Load on the pipeline: tasks in, final statuses out, timed.

Two doors: straight onto Kafka (publish `task.submitted`, wait for `task.finished` on Kafka), and through the
gateway (POST /tasks, poll GET /tasks/{id} until the status is final).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from bench.llm import REVISE_MARKER
from schemas import (
    CancelRequested,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Topics,
    decode_event,
    encode_event,
)

FINAL_STATUSES = {"succeeded", "failed", "cancelled", "timed_out", "budget_exhausted", "rejected"}
Submit = Callable[[bool], Awaitable[str]]


def description(revise: bool) -> str:
    return f"add one and one {REVISE_MARKER}" if revise else "add one and one"


def new_task_id() -> str:
    return f"bench-{uuid.uuid4().hex[:16]}"


@dataclass
class Outcomes:
    """Futures of the tasks in flight, resolved by the finished-watcher."""

    waiting: dict[str, asyncio.Future[TaskFinished]] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    # Wall-clock time each task's end was heard, for bursts that time every task.
    ended_at: dict[str, float] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def drained(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self.waiting:
                    self.changed.clear()
                    await self.changed.wait()

    def expect(self, task_id: str) -> asyncio.Future[TaskFinished]:
        future = asyncio.get_running_loop().create_future()
        self.waiting[task_id] = future
        return future

    def arrived(self, event: TaskFinished) -> None:
        future = self.waiting.pop(event.task_id, None)
        self.changed.set()
        if future is not None and not future.done():
            self.ended_at[event.task_id] = time.time()
            self.statuses[event.status.value] = self.statuses.get(event.status.value, 0) + 1
            future.set_result(event)


class KafkaDoor:
    """Publishes task.submitted like `troupe publish` does, and hears task.finished like any consumer."""

    def __init__(self, bootstrap: str, topics: Topics, fetch_max_wait_ms: int) -> None:
        self.topics = topics
        self.outcomes = Outcomes()
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="bench-client")
        self._consumer = AIOKafkaConsumer(
            topics.task_finished,
            bootstrap_servers=bootstrap,
            # No group: a watcher that is busy at 1000 tasks in flight must not be rebalanced out.
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=fetch_max_wait_ms,
        )
        self._pump: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        self._pump = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for record in self._consumer:
            event = decode_event(record.value or b"")
            if isinstance(event, TaskFinished):
                self.outcomes.arrived(event)

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        await self._consumer.stop()
        await self._producer.stop()

    async def settle(self, timeout_s: float) -> int:
        """Wait until every task this door started has ended; after `timeout_s`, cancel the rest (so a backlog
        never spills into the next measurement) and wait for those too. Returns how many were cancelled."""
        await self.outcomes.drained(timeout_s)
        backlog = list(self.outcomes.waiting)
        for task_id in backlog:
            cancel = CancelRequested(task_id=task_id, tenant="bench", reason="benchmark phase over")
            await self._producer.send(
                self.topics.cancel_requested, encode_event(cancel), key=task_id.encode()
            )
        await self._producer.flush()
        await self.outcomes.drained(timeout_s)
        return len(backlog)

    async def run_task(self, revise: bool) -> str:
        done, sent = await self.publish(new_task_id(), description(revise))
        await sent
        finished = await done
        return finished.status.value

    async def publish(
        self, task_id: str, text: str
    ) -> tuple[asyncio.Future[TaskFinished], asyncio.Future[RecordMetadata]]:
        """Submit a task; (its end, its delivery to the broker)."""
        done = self.outcomes.expect(task_id)
        event = TaskSubmitted(task_id=task_id, tenant="bench", request=TaskRequest(description=text))
        sent = await self._producer.send(
            self.topics.task_submitted, encode_event(event), key=task_id.encode()
        )
        return done, sent

    async def partition_count(self) -> int:
        """Partitions of the topic tasks are submitted on (the services create it, all topics alike)."""
        return len(await self._producer.partitions_for(self.topics.task_submitted))


@asynccontextmanager
async def kafka_door(bootstrap: str, topics: Topics, fetch_max_wait_ms: int) -> AsyncIterator[KafkaDoor]:
    door = KafkaDoor(bootstrap, topics, fetch_max_wait_ms)
    await door.start()
    try:
        yield door
    finally:
        await door.stop()


class HttpDoor:
    """POST /tasks, then GET /tasks/{id} every `poll_s` until its status is final.

    Every GET costs the gateway a key lookup, a rate-limit write and a read; polling much faster than this
    (2 ms was tried) loads the store the projection writes to and measures the polling, not the pipeline.
    The sampling adds up to `poll_s` (half of it on average) to each latency.
    """

    def __init__(self, base_url: str, api_key: str, poll_s: float = 0.02) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=200),
        )
        self._poll_s = poll_s
        self.statuses: dict[str, int] = {}

    async def close(self) -> None:
        await self._client.aclose()

    async def run_task(self, revise: bool) -> str:
        answer = await self._client.post("/tasks", json={"description": description(revise)})
        answer.raise_for_status()
        task_id = answer.json()["task_id"]
        while True:
            got = await self._client.get(f"/tasks/{task_id}")
            if got.status_code == 200 and (status := got.json()["status"]) in FINAL_STATUSES:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                return str(status)
            if got.status_code not in (200, 404):
                got.raise_for_status()
            await asyncio.sleep(self._poll_s)


async def latencies(run_task: Submit, revise: bool, count: int, budget_s: float) -> list[float]:
    """Seconds per task, one task at a time, at most `count` tasks and about `budget_s` seconds."""
    samples: list[float] = []
    stop_at = time.monotonic() + budget_s
    for _ in range(count):
        if time.monotonic() > stop_at:
            break
        started = time.perf_counter()
        try:
            await asyncio.wait_for(run_task(revise), timeout=30)
        except TimeoutError:
            continue  # not a sample; the report shows n, so a lost task is visible as a shorter series
        samples.append(time.perf_counter() - started)
    return samples


@dataclass(frozen=True)
class Throughput:
    concurrency: int
    finished: int
    seconds: float
    failed: int
    unfinished: int
    latencies_s: list[float]

    @property
    def per_second(self) -> float:
        return self.finished / self.seconds if self.seconds else 0.0


async def throughput(
    run_task: Submit, concurrency: int, window_s: float, warmup_s: float, drain_s: float = 60
) -> Throughput:
    """A closed loop: `concurrency` tasks in flight at all times; tasks finished per second in the window
    that follows the warm-up (tasks counted when they finish inside it)."""
    started = time.monotonic()
    window_start, window_end = started + warmup_s, started + warmup_s + window_s
    done_in_window: list[float] = []
    failed = 0

    async def client() -> None:
        nonlocal failed
        while time.monotonic() < window_end:
            begun = time.perf_counter()
            status = await run_task(False)
            now = time.monotonic()
            if status != "succeeded":
                failed += 1
            elif window_start <= now <= window_end:
                done_in_window.append(time.perf_counter() - begun)

    clients = [asyncio.create_task(client()) for _ in range(concurrency)]
    # The pipeline is drained before the next measurement, so a backlog never spills into it.
    await asyncio.wait(clients, timeout=warmup_s + window_s + drain_s)
    unfinished = sum(not c.done() for c in clients)
    for pending in clients:
        pending.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    return Throughput(concurrency, len(done_in_window), window_s, failed, unfinished, done_in_window)
