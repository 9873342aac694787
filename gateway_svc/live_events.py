"""Live task events for server-sent events: one Kafka reader per gateway process, fanned out in memory.

Fed from Kafka rather than MongoDB change streams, which MongoDB-compatible servers lack. The reader has no
consumer group: every gateway replica sees every event from the moment it starts (the latest offsets), and
hands each one to the SSE clients of its task, one bounded queue per client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import IllegalStateError

from gateway_svc.projection import read_event
from gateway_svc.readers import start_consumer, stop_reader
from troupe.logs import get_logger
from troupe.settings import Settings

__all__ = ["KafkaLiveFeed", "LiveEvent", "LiveEvents", "Subscription"]

_log = get_logger(__name__)
_QUEUE_SIZE = 1_000


@dataclass(frozen=True)
class LiveEvent:
    task_id: str
    tenant: str | None
    type: str
    event_id: str
    json: str


class Subscription:
    """One SSE client's queue of its task's events; `None` in the queue means the stream must end."""

    def __init__(self, hub: LiveEvents, task_id: str) -> None:
        self.task_id = task_id
        self.queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(_QUEUE_SIZE)
        self._hub = hub

    async def next(self, within_s: float) -> LiveEvent | None:
        """The next event, or None when the stream is closed; TimeoutError when nothing came in time."""
        async with asyncio.timeout(within_s):
            return await self.queue.get()

    def close(self) -> None:
        self._hub.discard(self)


class LiveEvents:
    """The in-process fan-out: task id -> subscriptions."""

    def __init__(self) -> None:
        self._subs: defaultdict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, task_id: str) -> Subscription:
        sub = Subscription(self, task_id)
        self._subs[task_id].add(sub)
        return sub

    def follows(self, task_id: str) -> bool:
        """Whether any client follows the task."""
        return task_id in self._subs

    def discard(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.task_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.task_id]

    def publish(self, event: LiveEvent) -> None:
        for sub in list(self._subs.get(event.task_id, ())):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                # A client that does not read is cut off rather than holding memory; it can reconnect.
                self.discard(sub)
                _close(sub)

    def close_all(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                _close(sub)
        self._subs.clear()

    def __len__(self) -> int:
        return sum(len(s) for s in self._subs.values())


def _close(sub: Subscription) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        sub.queue.put_nowait(None)
        return
    sub.queue.get_nowait()
    sub.queue.put_nowait(None)


class KafkaLiveFeed:
    """Reads every task topic from its end and publishes each event to the hub."""

    def __init__(self, settings: Settings, hub: LiveEvents) -> None:
        self._settings = settings
        self._hub = hub
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns once every partition's position is fixed, so no event published afterwards is missed."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id=f"{self._settings.service_name}-live",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self._settings.kafka_fetch_max_wait_ms,
            request_timeout_ms=self._settings.kafka_request_timeout_ms,
        )
        topics = self._settings.topics.all()
        # Without a group, a subscription is assigned every partition of its topics (new ones included).
        consumer.subscribe(topics)

        async def positioned() -> None:
            async with asyncio.timeout(self._settings.kafka_request_timeout_ms / 1000):
                while True:
                    # aiokafka signals no event for a group-less assignment: poll for it.
                    while {tp.topic for tp in consumer.assignment()} != set(topics):  # noqa: ASYNC110
                        await asyncio.sleep(0.02)
                    try:
                        for tp in list(consumer.assignment()):
                            await consumer.position(tp)
                        return
                    except IllegalStateError:
                        # The assignment changed meanwhile (a new topic's metadata came in): position it anew.
                        await asyncio.sleep(0.02)

        await start_consumer(consumer, positioned)
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="gateway-live-feed")

    async def stop(self) -> None:
        await stop_reader(self._task, self._consumer)

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1_000)
            except Exception as exc:  # the reader must outlive a broker hiccup; aiokafka reconnects
                _log.warning("live feed read failed", error=repr(exc))
                await asyncio.sleep(1)
                continue
            for records in batches.values():
                for record in records:
                    if self._wanted(record.key):
                        self._deliver(record.value or b"")

    def _wanted(self, key: bytes | None) -> bool:
        """Whether a client may want the record. Every event is keyed by its task id (a consumer dead-letters
        one that is not), so most records, whose task no client follows, are skipped without being decoded;
        a record without a key is decoded to find out."""
        return key is None or self._hub.follows(key.decode(errors="replace"))

    def _deliver(self, raw: bytes) -> None:
        event = read_event(raw, self._settings.max_event_bytes)
        if event is not None and event.task_id is not None:
            self._hub.publish(
                LiveEvent(event.task_id, event.tenant, event.type, event.event_id, raw.decode())
            )
