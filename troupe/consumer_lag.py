"""Consumer lag of a service's consumer groups, sampled periodically into the `troupe.kafka.consumer.lag` gauge.

Lag per topic is the sum over its partitions of high watermark minus the group's committed offset (a
partition the group never committed counts from its first offset). Sampling reads offsets only: it joins
no group, so it never triggers a rebalance, and a failed sample is logged and retried at the next tick.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from troupe.logs import get_logger
from troupe.metrics import set_consumer_lag
from troupe.settings import Settings

__all__ = ["ConsumerLagSampler", "consumer_lag", "topic_partitions"]

log = get_logger(__name__)


async def topic_partitions(
    admin: AIOKafkaAdminClient, topics: Sequence[str]
) -> dict[str, list[TopicPartition]]:
    described = await admin.describe_topics(list(topics))
    return {
        d["topic"]: [TopicPartition(d["topic"], p["partition"]) for p in d["partitions"]]
        for d in described
        if d["error_code"] == 0
    }


class ConsumerLagSampler:
    def __init__(
        self, settings: Settings, groups: Sequence[tuple[str, Sequence[str]]], every_s: float = 15
    ) -> None:
        self._settings = settings
        self._groups = [(group, tuple(topics)) for group, topics in groups]
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._groups and self._task is None:
            self._task = asyncio.create_task(self._run(), name="consumer-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        servers, client_id = self._settings.kafka_bootstrap_servers, f"{self._settings.service_name}-lag"
        admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id=client_id)
        offsets = AIOKafkaConsumer(bootstrap_servers=servers, client_id=client_id, enable_auto_commit=False)
        try:
            await admin.start()
            await offsets.start()
            while True:
                try:
                    await self._sample(admin, offsets)
                except Exception as exc:  # a lag sample is never worth stopping the service for
                    log.warning("consumer_lag.sample_failed", error=repr(exc))
                await asyncio.sleep(self._every_s)
        except Exception as exc:  # no connection at start: the service runs on without the lag metric
            log.warning("consumer_lag.unavailable", error=repr(exc))
        finally:
            with contextlib.suppress(Exception):
                await offsets.stop()
            with contextlib.suppress(Exception):
                await admin.close()

    async def _sample(self, admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer) -> None:
        for group, topics in self._groups:
            for topic, lag in (await consumer_lag(admin, offsets, group, topics)).items():
                set_consumer_lag(group, topic, lag)


async def consumer_lag(
    admin: AIOKafkaAdminClient, offsets: AIOKafkaConsumer, group: str, topics: Sequence[str]
) -> dict[str, int]:
    """Per topic: messages past the group's committed offsets (from the first offset where it committed none)."""
    committed = await admin.list_consumer_group_offsets(group)
    lags: dict[str, int] = {}
    for topic, partitions in (await topic_partitions(admin, topics)).items():
        if not partitions:
            continue
        ends = await offsets.end_offsets(partitions)
        starts = await offsets.beginning_offsets(partitions)
        lag = 0
        for tp in partitions:
            done = committed.get(tp)
            position = done.offset if done is not None and done.offset >= 0 else starts[tp]
            lag += max(ends[tp] - position, 0)
        lags[topic] = lag
    return lags
