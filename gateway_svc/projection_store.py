"""Where task events, states and log entries live: MongoDB, and an in-memory fake with the same behaviour.

A task is stored as its queryable fields (tenant, status, times) plus the whole state as JSON text: plans,
tool outputs and results are user data whose keys may contain '.' or start with '$', which
MongoDB-compatible servers refuse as field names. Each event is kept too (`task_events`, one document per
event id): the state is recomputed from them, see `gateway_svc.projector`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from gateway_svc.pagination import decode_cursor, to_millis
from gateway_svc.projection import ProjectedEvent, TracedEvent, read_event
from gateway_svc.task_state import LogEntry, TaskState
from troupe.db import Document

__all__ = ["InMemoryTaskStore", "MongoTaskStore", "TaskReader", "TaskWriter"]


class TaskWriter(Protocol):
    async def load(self, task_id: str) -> TaskState | None: ...

    async def add_event(self, event: ProjectedEvent, trace_id: str | None) -> None:
        """Keep an event of a task; keeping one event id twice keeps it once."""
        ...

    async def events(self, task_id: str) -> list[TracedEvent]: ...

    async def count_events(self, task_id: str) -> int: ...

    async def put(self, state: TaskState) -> None: ...

    async def add_log(self, entry: LogEntry) -> None: ...


class TaskReader(Protocol):
    async def load(self, task_id: str) -> TaskState | None: ...

    async def page(
        self, tenant: str, statuses: Sequence[str], limit: int, cursor: str | None
    ) -> list[TaskState]:
        """A tenant's tasks, newest first, after `cursor` (from the last task's created_at and id)."""
        ...

    async def log_page(self, task_id: str, limit: int, cursor: str | None) -> list[LogEntry]:
        """A task's log in time order, after `cursor`."""
        ...


class MongoTaskStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._tasks = database["tasks"]
        self._events = database["task_events"]
        self._logs = database["task_logs"]

    async def ensure_indexes(self) -> None:
        await self._tasks.create_index([("tenant", ASCENDING), ("created_at", DESCENDING)])
        await self._events.create_index([("task_id", ASCENDING)])
        await self._logs.create_index([("task_id", ASCENDING), ("time", ASCENDING)])

    async def load(self, task_id: str) -> TaskState | None:
        doc = await self._tasks.find_one({"_id": task_id}, {"state": 1})
        return TaskState.model_validate_json(doc["state"]) if doc else None

    async def add_event(self, event: ProjectedEvent, trace_id: str | None) -> None:
        fields = {"task_id": event.task_id, "trace_id": trace_id, "event": event.model_dump_json()}
        # Keyed by task too: an event id reused by another task's producer must not hide this one.
        await _insert_once(self._events, f"{event.task_id}\n{event.event_id}", fields)

    async def events(self, task_id: str) -> list[TracedEvent]:
        found = self._events.find({"task_id": task_id})
        return [(_event(d["event"]), d.get("trace_id")) async for d in found]

    async def count_events(self, task_id: str) -> int:
        return await self._events.count_documents({"task_id": task_id})

    async def put(self, state: TaskState) -> None:
        doc = {
            "tenant": state.tenant,
            "status": state.status.value,
            "created_at": state.created_at,
            "updated_at": state.updated_at,
            "revision": state.revision,
            "state": state.model_dump_json(),
        }
        try:
            await self._tasks.replace_one({"_id": state.task_id}, doc, upsert=True)
        except DuplicateKeyError:  # two first writes of one task at once: the other one inserted it
            await self._tasks.replace_one({"_id": state.task_id}, doc)

    async def add_log(self, entry: LogEntry) -> None:
        await _insert_once(self._logs, entry.event_id, entry.model_dump(exclude={"event_id"}))

    async def page(
        self, tenant: str, statuses: Sequence[str], limit: int, cursor: str | None
    ) -> list[TaskState]:
        query: Document = {"tenant": tenant}
        if statuses:
            query["status"] = {"$in": list(statuses)}
        if cursor:
            time, task_id = decode_cursor(cursor)
            query["$or"] = [{"created_at": {"$lt": time}}, {"created_at": time, "_id": {"$lt": task_id}}]
        found = self._tasks.find(query, {"state": 1}).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        return [TaskState.model_validate_json(d["state"]) async for d in found.limit(limit)]

    async def log_page(self, task_id: str, limit: int, cursor: str | None) -> list[LogEntry]:
        query: Document = {"task_id": task_id}
        if cursor:
            time, event_id = decode_cursor(cursor)
            query["$or"] = [{"time": {"$gt": time}}, {"time": time, "_id": {"$gt": event_id}}]
        found = self._logs.find(query).sort([("time", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [LogEntry.model_validate({**d, "event_id": d["_id"]}) async for d in found]


@dataclass
class InMemoryTaskStore:
    """The fake: dicts of states, events and log entries."""

    tasks: dict[str, TaskState] = field(default_factory=dict)
    kept: dict[tuple[str | None, str], TracedEvent] = field(default_factory=dict)
    entries: dict[str, LogEntry] = field(default_factory=dict)

    async def load(self, task_id: str) -> TaskState | None:
        return self.tasks.get(task_id)

    async def add_event(self, event: ProjectedEvent, trace_id: str | None) -> None:
        self.kept.setdefault((event.task_id, event.event_id), (event, trace_id))

    async def events(self, task_id: str) -> list[TracedEvent]:
        return [(e, t) for e, t in self.kept.values() if e.task_id == task_id]

    async def count_events(self, task_id: str) -> int:
        return len(await self.events(task_id))

    async def put(self, state: TaskState) -> None:
        self.tasks[state.task_id] = state

    async def add_log(self, entry: LogEntry) -> None:
        self.entries.setdefault(entry.event_id, entry)

    async def page(
        self, tenant: str, statuses: Sequence[str], limit: int, cursor: str | None
    ) -> list[TaskState]:
        mine = [
            t for t in self.tasks.values() if t.tenant == tenant and (not statuses or t.status in statuses)
        ]
        mine.sort(key=lambda t: (t.created_at, t.task_id), reverse=True)
        if cursor:
            after = decode_cursor(cursor)
            mine = [t for t in mine if (to_millis(t.created_at), t.task_id) < after]
        return mine[:limit]

    async def log_page(self, task_id: str, limit: int, cursor: str | None) -> list[LogEntry]:
        mine = sorted((e for e in self.entries.values() if e.task_id == task_id), key=_log_order)
        if cursor:
            after: tuple[datetime, str] = decode_cursor(cursor)
            mine = [e for e in mine if _log_order(e) > after]
        return mine[:limit]


async def _insert_once(collection: AsyncCollection[Document], doc_id: str, fields: Document) -> None:
    """Insert unless a document with this id exists (a duplicate delivery, possibly on another replica)."""
    with contextlib.suppress(DuplicateKeyError):
        await collection.insert_one({"_id": doc_id, **fields})


def _event(text: str) -> ProjectedEvent:
    event = read_event(text.encode())
    assert event is not None, "only readable events are kept"
    return event


def _log_order(entry: LogEntry) -> tuple[datetime, str]:
    return to_millis(entry.time), entry.event_id
