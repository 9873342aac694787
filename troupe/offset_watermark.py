"""Which offset of a partition may be committed when its records finish out of order.

Kafka's committed offset is "everything below this is done". With records handled concurrently, a later
record often finishes before an earlier one; committing its offset would lose the earlier one on a crash.
So the committable offset is the lowest offset still unfinished, or one past the highest taken when none is.
"""

from __future__ import annotations

import heapq

__all__ = ["OffsetWatermark"]


class OffsetWatermark:
    """The unfinished offsets of one partition and the offset up to which it may be committed."""

    def __init__(self) -> None:
        self._unfinished: set[int] = set()
        self._lowest: list[int] = []  # a heap of started offsets; finished ones are dropped lazily
        self._next: int | None = None  # one past the highest offset taken
        self.committed: int | None = None  # the last offset Kafka acknowledged for this partition
        self.revoked = False

    def started(self, offset: int) -> None:
        self._unfinished.add(offset)
        heapq.heappush(self._lowest, offset)
        if self._next is None or offset >= self._next:
            self._next = offset + 1

    def finished(self, offset: int) -> None:
        self._unfinished.discard(offset)

    @property
    def unfinished(self) -> int:
        return len(self._unfinished)

    def committable(self) -> int | None:
        """The offset to commit: every record below it has finished. None before any record was taken."""
        while self._lowest and self._lowest[0] not in self._unfinished:
            heapq.heappop(self._lowest)
        return self._lowest[0] if self._lowest else self._next

    def owed(self) -> int | None:
        """The committable offset if it is ahead of what was committed, else None."""
        offset = self.committable()
        if offset is None or (self.committed is not None and offset <= self.committed):
            return None
        return offset
