"""Per-key rate limits that hold across gateway replicas: fixed one-minute windows counted in MongoDB.

Each request inserts one document and counts its window's documents. An `$inc` counter would be one write
instead, but FerretDB's SQLite backend loses concurrent `$inc`s on one document (they are not atomic there),
while separate inserts are never lost: the count can only come out high during a race, never low, so the
limit holds. Old windows are deleted on the side by whoever opens a new one (no TTL index: FerretDB has none).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from schemas import utc_now
from troupe.db import Document

__all__ = [
    "Decision",
    "InMemoryCounters",
    "MongoCounters",
    "RateLimiter",
    "WindowCounters",
    "window_of",
]

WINDOW_S = 60


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int


def window_of(now: datetime) -> tuple[int, int]:
    """The window's number and the whole seconds (at least 1) until it ends."""
    epoch = now.timestamp()
    window = int(epoch // WINDOW_S)
    return window, max(1, math.ceil((window + 1) * WINDOW_S - epoch))


class WindowCounters(Protocol):
    async def hit(self, key_id: str, window: int) -> int:
        """Count one request of `key_id` in `window`; returns the count so far, this one included."""
        ...


class RateLimiter:
    def __init__(
        self, counters: WindowCounters, per_minute: int, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._counters = counters
        self._limit = per_minute
        self._clock = clock

    async def check(self, key_id: str) -> Decision:
        window, retry_after = window_of(self._clock())
        count = await self._counters.hit(key_id, window)
        return Decision(count <= self._limit, self._limit, max(0, self._limit - count), retry_after)


class MongoCounters:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._hits = database["rate_limit_hits"]

    async def ensure_indexes(self) -> None:
        await self._hits.create_index([("key_id", ASCENDING), ("window", ASCENDING)])

    async def hit(self, key_id: str, window: int) -> int:
        await self._hits.insert_one({"key_id": key_id, "window": window})
        count = await self._hits.count_documents({"key_id": key_id, "window": window})
        if count == 1:
            await self._hits.delete_many({"window": {"$lt": window - 1}})
        return count


@dataclass
class InMemoryCounters:
    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    async def hit(self, key_id: str, window: int) -> int:
        self.counts[key_id, window] = self.counts.get((key_id, window), 0) + 1
        return self.counts[key_id, window]
