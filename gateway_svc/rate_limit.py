"""Per-key rate limits that hold across gateway replicas: fixed one-minute windows counted in MongoDB.

A key's window is a run of numbered slots, one per request, and a request's slot number is its count. Replicas
lease the slots in blocks: an insert under `_id` `<key>:<window>:<block>` gives its replica the block's slots,
which it then hands out from memory. Blocks are `limit // 100` slots (at least 1), so a request costs a store
write only once per block: one per request for limits under 200 a minute, one per 6 requests at the default
600, almost none at high limits (without blocks, every request, reads included, wrote to the store). An
`$inc` counter would be simpler, but FerretDB's SQLite backend loses concurrent `$inc`s on one document (they
are not atomic there), and counting documents scans the whole collection on that backend, while an insert on
a taken `_id` fails on every server: two replicas never get one block, so no slot is handed out twice and the
limit holds across replicas. The slots left in other replicas' blocks count as taken, so a key may be refused
up to (replicas - 1) x (block - 1) requests early, about 1% of the limit per replica. A request over the limit
writes nothing. Old windows are deleted on the side by whoever opens a new one (no TTL index: FerretDB has
none).
"""

from __future__ import annotations

import asyncio
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


@dataclass
class _Window:
    """A key's window as this replica sees it: the block it leases next and the slots it holds."""

    leasing: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_block: int = 0
    next_slot: int = 0
    end: int = 0  # the held slots are next_slot .. end - 1


class MongoCounters:
    def __init__(self, database: AsyncDatabase[Document], share: int = 100) -> None:
        self._hits = database["rate_limit_hits"]
        self._share = share  # a block is this fraction of the limit
        self._windows: dict[tuple[str, int], _Window] = {}

    async def ensure_indexes(self) -> None:
        await self._hits.create_index([("window", ASCENDING)])

    async def hit(self, key_id: str, window: int, limit: int) -> int:
        if all(w != window for _, w in self._windows):  # this replica's first request in a new window
            self._windows = {k: v for k, v in self._windows.items() if k[1] >= window - 1}
            await self._hits.delete_many({"window": {"$lt": window - 1}})
        mine = self._windows.setdefault((key_id, window), _Window())
        size = max(1, limit // self._share)
        # One lease at a time per key and window: concurrent requests wait for it, rather than each leasing a
        # block of its own.
        async with mine.leasing:
            while mine.next_slot >= mine.end:
                start = mine.next_block * size
                if start >= limit:  # this request is over the limit whatever else is stored: write nothing
                    return start + 1
                block, mine.next_block = mine.next_block, mine.next_block + 1
                try:
                    await self._hits.insert_one({"_id": f"{key_id}:{window}:{block}", "window": window})
                except DuplicateKeyError:  # another replica leased it
                    continue
                mine.next_slot, mine.end = start, min(start + size, limit)
            mine.next_slot += 1
            return mine.next_slot


@dataclass
class InMemoryCounters:
    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    async def hit(self, key_id: str, window: int, limit: int) -> int:
        self.counts[key_id, window] = self.counts.get((key_id, window), 0) + 1
        return self.counts[key_id, window]
