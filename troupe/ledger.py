"""The stage ledger: each stage's output for a task and iteration, written once, before it is published.

Kafka delivers at least once, so a handler may see its input again after a crash or a rebalance. Before doing
any work it looks its output up here and republishes that instead; the first replica to record an output
wins, so even an LLM that would answer differently the second time cannot fork a task. The same record with
key `finished:<task>` makes the task's terminal outcome single, whichever stage decides it.
"""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas import Envelope, decode_event, encode_event
from troupe.db import Document

__all__ = ["InMemoryLedger", "Ledger", "MongoLedger", "finished_key", "stage_key"]


def stage_key(stage: str, task_id: str, iteration: int) -> str:
    return f"{stage}:{task_id}:{iteration}"


def finished_key(task_id: str) -> str:
    return f"finished:{task_id}"


class Ledger(Protocol):
    async def find(self, key: str) -> Envelope | None: ...

    async def record_once(self, key: str, event: Envelope) -> Envelope:
        """Store `event` under `key` unless something is there already; return what is stored."""
        ...


class MongoLedger:
    def __init__(self, database: AsyncDatabase[Document], collection: str = "stage_outputs") -> None:
        self._collection = database[collection]

    async def find(self, key: str) -> Envelope | None:
        doc = await self._collection.find_one({"_id": key})
        return decode_event(doc["event"]) if doc else None

    async def record_once(self, key: str, event: Envelope) -> Envelope:
        try:
            await self._collection.insert_one(
                {"_id": key, "task_id": event.task_id, "event": encode_event(event).decode()}
            )
        except DuplicateKeyError:
            stored = await self.find(key)
            if stored is None:  # pragma: no cover - only if a record vanished between the two calls
                raise
            return stored
        return event


class InMemoryLedger:
    def __init__(self) -> None:
        self.records: dict[str, Envelope] = {}

    async def find(self, key: str) -> Envelope | None:
        return self.records.get(key)

    async def record_once(self, key: str, event: Envelope) -> Envelope:
        return self.records.setdefault(key, event)
