"""Periodic samples of a running deployment: resident memory of every process (VmRSS from /proc) and the
consumer lag of every consumer group (`troupe.consumer_lag`, which reads offsets without joining a group)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tests.faults.deployment import Deployment, consumer_groups
from troupe.consumer_lag import consumer_lag

__all__ = ["Samples", "rss_kib", "sampling"]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


@dataclass
class Samples:
    started: float = field(default_factory=time.monotonic)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # process -> (t, KiB)
    lag: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # group -> (t, messages)
    failed_lag_samples: int = 0

    def during(self, start_s: float, end_s: float) -> Samples:
        """The samples taken between those two times (seconds since sampling started)."""
        return Samples(
            self.started,
            {name: [p for p in points if start_s <= p[0] <= end_s] for name, points in self.rss.items()},
            {group: [p for p in points if start_s <= p[0] <= end_s] for group, points in self.lag.items()},
        )

    def lag_series(self, every_s: float) -> dict[str, list[int]]:
        """Each group's lag about every `every_s` seconds: the shape of the run, short enough to print."""
        series: dict[str, list[int]] = {}
        for group, points in self.lag.items():
            kept, next_t = [], 0.0
            for t, lag in points:
                if t >= next_t:
                    kept.append(lag)
                    next_t = t + every_s
            series[group] = kept
        return series

    def max_lag(self) -> dict[str, int]:
        return {group: max((n for _, n in points), default=0) for group, points in self.lag.items()}

    def rss_at(self, fraction: float) -> dict[str, int]:
        """Each process's resident memory at that fraction of its sampled time (0 = first, 1 = last), KiB."""
        return {name: _at(points, fraction) for name, points in self.rss.items() if points}

    def rss_quarter_means(self) -> dict[str, list[float]]:
        """Each process's mean resident memory over each quarter of its sampled time, KiB."""
        return {name: _quarter_means(points) for name, points in self.rss.items() if len(points) >= 4}


def _at(points: Sequence[tuple[float, int]], fraction: float) -> int:
    return points[min(round(fraction * (len(points) - 1)), len(points) - 1)][1]


def _quarter_means(points: Sequence[tuple[float, int]]) -> list[float]:
    first, last = points[0][0], points[-1][0]
    span = (last - first) or 1.0
    quarters: list[list[int]] = [[], [], [], []]
    for t, kib in points:
        quarters[min(int(4 * (t - first) / span), 3)].append(kib)
    return [sum(q) / len(q) if q else 0.0 for q in quarters]


async def _sample_lag(
    admin: AIOKafkaAdminClient,
    offsets: AIOKafkaConsumer,
    groups: Mapping[str, list[str]],
    now: float,
    into: Samples,
) -> None:
    for group, topics in groups.items():
        lags = await consumer_lag(admin, offsets, group, topics)
        into.lag.setdefault(group, []).append((now, sum(lags.values())))


@asynccontextmanager
async def sampling(target: Deployment, every_s: float = 3.0) -> AsyncIterator[Samples]:
    samples = Samples()
    servers = target.settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id="faults-lag")
    offsets = AIOKafkaConsumer(bootstrap_servers=servers, client_id="faults-lag", enable_auto_commit=False)
    await admin.start()
    await offsets.start()
    groups = consumer_groups(target.settings)

    async def run() -> None:
        while True:
            now = time.monotonic() - samples.started
            for name, service in target.processes().items():
                if service.process is not None and service.process.poll() is None:
                    with contextlib.suppress(OSError, LookupError):  # it may exit between the two calls
                        samples.rss.setdefault(name, []).append((now, rss_kib(service.process.pid)))
            try:
                await _sample_lag(admin, offsets, groups, now, samples)
            except Exception:  # e.g. a group mid-rebalance: the next tick samples again
                samples.failed_lag_samples += 1
            await asyncio.sleep(every_s)

    task = asyncio.create_task(run())
    try:
        yield samples
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await offsets.stop()
        await admin.close()
