"""The stage ledger: each stage's output for a task and iteration, written once, before it is published.

Kafka delivers at least once, so a handler may see its input again after a crash or a rebalance. Before doing
any work it looks its output up here and republishes that instead; the first replica to record an output
wins, so even an LLM that would answer differently the second time cannot fork a task. The same record with
key `finished:<task>` makes the task's terminal outcome single, whichever stage decides it.

Records that belong together (a review and the end it decides) can be recorded in one round trip by
`record_in_order`: an ordered insert that stops at the first key taken, so a later record is never stored
without the ones before it, and each key is still first writer wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

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

    async def record_in_order(self, records: Sequence[tuple[str, Envelope]]) -> int:
        """Store the records in order, stopping at the first key that is taken; returns how many were stored.
        Whatever fails midway, what is stored is a run from the first record: never one without those before."""
        ...


class MongoLedger:
    def __init__(self, database: AsyncDatabase[Document], collection: str = "stage_outputs") -> None:
        self._collection = database[collection]

    async def find(self, key: str) -> Envelope | None:
        doc = await self._collection.find_one({"_id": key})
        return decode_event(doc["event"]) if doc else None

    async def record_once(self, key: str, event: Envelope) -> Envelope:
        try:
            await self._collection.insert_one(_document(key, event))
        except DuplicateKeyError:
            stored = await self.find(key)
            if stored is None:  # pragma: no cover - only if a record vanished between the two calls
                raise
            return stored
        return event

    async def record_in_order(self, records: Sequence[tuple[str, Envelope]]) -> int:
        try:
            await self._collection.insert_many([_document(k, e) for k, e in records], ordered=True)
        except BulkWriteError as exc:
            # An ordered insert stops at its first error: the records before it are stored.
            stored = int(exc.details.get("nInserted", 0))
            first = (exc.details.get("writeErrors") or [{}])[0]
            if first.get("code") != _DUPLICATE_KEY or first.get("index") != stored:
                raise
            return stored
        return len(records)


_DUPLICATE_KEY = 11000


def _document(key: str, event: Envelope) -> Document:
    return {"_id": key, "task_id": event.task_id, "event": encode_event(event).decode()}


class InMemoryLedger:
    def __init__(self) -> None:
        self.records: dict[str, Envelope] = {}

    async def find(self, key: str) -> Envelope | None:
        return self.records.get(key)

    async def record_once(self, key: str, event: Envelope) -> Envelope:
        """As the real one: `event` itself when it is stored, else a copy of what is (never `event`)."""
        if key in self.records:
            return self.records[key].model_copy()
        self.records[key] = event
        return event

    async def record_in_order(self, records: Sequence[tuple[str, Envelope]]) -> int:
        for stored, (key, event) in enumerate(records):
            if key in self.records:
                return stored
            self.records[key] = event
        return len(records)
