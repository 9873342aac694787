"""Peaks sampled while a burst runs: each service's events in flight (from its metrics endpoint) and RSS.

The hook for events in flight: a service started with `TROUPE_METRICS_PORT` set serves Prometheus text at
`http://127.0.0.1:$TROUPE_METRICS_PORT/metrics`, with a gauge `troupe_events_in_flight` (one series per
consumer, or one in all; the sample sums them). Troupe's services send their metrics over OTLP only
(troupe/telemetry.py), so until they serve that endpoint these peaks are reported as not exposed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

__all__ = ["IN_FLIGHT_SERIES", "METRICS_PORT_VARIABLE", "Peaks", "gauge_sum", "sampling"]

IN_FLIGHT_SERIES = "troupe_events_in_flight"
METRICS_PORT_VARIABLE = "TROUPE_METRICS_PORT"
INTERVAL_S = 1.0  # a scrape collects every metric: at 0.2 s it cost a service ~5% of its CPU
# name, optional {labels}, value (a timestamp may follow)
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{.*\})?\s+(?P<value>\S+)")


def gauge_sum(exposition: str, series: str) -> float | None:
    """The sum of every sample of `series` in Prometheus text, or None when the text has none."""
    values = [
        float(found["value"])
        for line in exposition.splitlines()
        if (found := _SAMPLE.match(line)) and found["name"] == series
    ]
    return sum(v for v in values if not math.isnan(v)) if values else None


@dataclass
class Peaks:
    """The largest value seen per name; a name never seen with a value stays None."""

    values: dict[str, float | None] = field(default_factory=dict)

    def observe(self, name: str, value: float | None) -> None:
        seen = self.values.get(name)
        if value is None:
            self.values.setdefault(name, None)
        else:
            self.values[name] = value if seen is None else max(seen, value)


Probe = Callable[[], dict[str, float | None]]


async def _in_flight(client: httpx.AsyncClient, ports: dict[str, int]) -> dict[str, float | None]:
    async def one(port: int) -> float | None:
        try:
            answer = await client.get(f"http://127.0.0.1:{port}/metrics")
        except httpx.HTTPError:
            return None
        return gauge_sum(answer.text, IN_FLIGHT_SERIES) if answer.status_code == 200 else None

    found = await asyncio.gather(*(one(port) for port in ports.values()))
    return dict(zip(ports, found, strict=True))


@asynccontextmanager
async def sampling(ports: dict[str, int], rss: Probe) -> AsyncIterator[tuple[Peaks, Peaks]]:
    """Every INTERVAL_S until the block ends: each service's events in flight (`ports`: its metrics port)
    and `rss()` (MiB by process). Yields (events in flight, RSS MiB) peaks, filled as the block runs."""
    in_flight, memory = Peaks(), Peaks()

    async def loop(client: httpx.AsyncClient) -> None:
        while True:
            for name, value in (await _in_flight(client, ports)).items():
                in_flight.observe(name, value)
            for name, value in rss().items():
                memory.observe(name, value)
            await asyncio.sleep(INTERVAL_S)

    async with httpx.AsyncClient(timeout=1) as client:
        sampler = asyncio.create_task(loop(client))
        try:
            yield in_flight, memory
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
