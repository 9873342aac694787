"""The plans waiting for approval, by when their wait expires: what the executor's expiry sweep reads.

The wait itself (plan hash, reasons, expiry) is in the stage ledger; this index only lets a sweep find the
due ones without scanning the ledger. An entry goes when the wait is answered or expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from troupe.db import Document

__all__ = ["ApprovalWaits", "InMemoryApprovalWaits", "MongoApprovalWaits"]


class ApprovalWaits(Protocol):
    async def open(self, task_id: str, iteration: int, expires_at: datetime) -> None: ...

    async def due(self, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
        """(task id, iteration) of the waits that expired by `now`, soonest first."""
        ...

    async def close(self, task_id: str, iteration: int) -> None: ...


class MongoApprovalWaits:
    def __init__(self, database: AsyncDatabase[Document], collection: str = "approval_waits") -> None:
        self._waits = database[collection]

    async def ensure_indexes(self) -> None:
        await self._waits.create_index([("expires_at", ASCENDING)])

    async def open(self, task_id: str, iteration: int, expires_at: datetime) -> None:
        doc = {"task_id": task_id, "iteration": iteration, "expires_at": expires_at}
        await self._waits.replace_one({"_id": f"{task_id}:{iteration}"}, doc, upsert=True)

    async def due(self, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
        found = self._waits.find({"expires_at": {"$lte": now}}).sort("expires_at", ASCENDING).limit(limit)
        return [(doc["task_id"], doc["iteration"]) async for doc in found]

    async def close(self, task_id: str, iteration: int) -> None:
        await self._waits.delete_one({"_id": f"{task_id}:{iteration}"})


@dataclass
class InMemoryApprovalWaits:
    waits: dict[tuple[str, int], datetime] = field(default_factory=dict)

    async def open(self, task_id: str, iteration: int, expires_at: datetime) -> None:
        self.waits[(task_id, iteration)] = expires_at

    async def due(self, now: datetime, limit: int = 100) -> list[tuple[str, int]]:
        return sorted((k for k, at in self.waits.items() if at <= now), key=self.waits.__getitem__)[:limit]

    async def close(self, task_id: str, iteration: int) -> None:
        self.waits.pop((task_id, iteration), None)
