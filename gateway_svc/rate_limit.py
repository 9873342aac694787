"""Per-key rate limits that hold across gateway replicas: fixed one-minute windows counted in MongoDB.

Each request takes the next numbered slot of its key's window: an insert under `_id` `<key>:<window>:<n>`,
and the slot it got is the count. An `$inc` counter would be simpler, but FerretDB's SQLite backend loses
concurrent `$inc`s on one document (they are not atomic there), and counting documents scans the whole
collection on that backend, while an insert on a taken `_id` fails on every server: two requests never get
one slot, so the count is never low and the limit holds across replicas. Each replica remembers the next slot
it expects, so a request costs one insert (plus one more per request another replica took meanwhile), and
one over the limit costs none. Old windows are deleted on the side by whoever opens a new one (no TTL index:
FerretDB has none).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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
    async def hit(self, key_id: str, window: int, limit: int) -> int:
        """Count one request of `key_id` in `window`; returns the count so far, this one included (past
        `limit`, a count above it may be all that is known)."""
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
        count = await self._counters.hit(key_id, window, self._limit)
        return Decision(count <= self._limit, self._limit, max(0, self._limit - count), retry_after)


class MongoCounters:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._hits = database["rate_limit_hits"]
        self._next: dict[tuple[str, int], int] = {}

    async def ensure_indexes(self) -> None:
        await self._hits.create_index([("window", ASCENDING)])

    async def hit(self, key_id: str, window: int, limit: int) -> int:
        if all(w != window for _, w in self._next):  # this replica's first request in a new window
            self._next = {k: n for k, n in self._next.items() if k[1] >= window - 1}
            await self._hits.delete_many({"window": {"$lt": window - 1}})
        while True:
            # Taken before the insert is awaited, so concurrent requests of this replica try distinct slots.
            slot = self._next.get((key_id, window), 0)
            if slot >= limit:  # this request is over the limit whatever else is stored: write nothing
                return slot + 1
            self._next[key_id, window] = slot + 1
            try:
                await self._hits.insert_one({"_id": f"{key_id}:{window}:{slot}", "window": window})
            except DuplicateKeyError:  # another replica took it
                continue
            return slot + 1


@dataclass
class InMemoryCounters:
    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    async def hit(self, key_id: str, window: int, limit: int) -> int:
        self.counts[key_id, window] = self.counts.get((key_id, window), 0) + 1
        return self.counts[key_id, window]
