"""Where task events, states and log entries live: MongoDB, and an in-memory fake with the same behaviour.

A task is stored as its queryable fields (tenant, status, times) plus the whole state and its log as JSON
text: plans, tool outputs and results are user data whose keys may contain '.' or start with '$', which
MongoDB-compatible servers refuse as field names. Each event is kept too (`task_events`, one document per
slot of the task's event log, `<task id>#<n>`, holding the events one write appended): the state is
recomputed from them, see `gateway_svc.projector`. Every read by a task is an `_id` lookup: FerretDB's
SQLite backend scans the whole collection for any other filter, which made each event cost more as the
store grew.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import TypeAdapter
from pymongo import ASCENDING, DESCENDING, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from gateway_svc.pagination import decode_cursor, to_millis
from gateway_svc.projection import ProjectedEvent, TracedEvent, read_event
from gateway_svc.task_state import TERMINAL, LogEntry, TaskState
from troupe.db import Document

__all__ = ["InMemoryTaskStore", "MongoTaskStore", "TaskReader", "TaskWriter"]


class TaskWriter(Protocol):
    async def load(self, task_id: str) -> TaskState | None: ...

    async def append(self, task_id: str, slot: int, events: Sequence[TracedEvent]) -> bool:
        """Store `events` as slot `slot` of the task's event log; False if that slot is taken."""
        ...

    async def slot(self, task_id: str, slot: int) -> list[TracedEvent] | None:
        """The events of slot `slot`, or None if it is free."""
        ...

    async def put(self, state: TaskState, log: list[LogEntry]) -> None: ...

    async def append_many(self, slots: Sequence[tuple[str, int, Sequence[TracedEvent]]]) -> list[bool]:
        """`append` for each (task id, slot, events), in one round trip; whether each slot was free."""
        ...

    async def put_many(self, states: Sequence[tuple[TaskState, list[LogEntry]]]) -> None:
        """`put` for each (state, log), in one round trip."""
        ...


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

    async def count_open(self, tenant: str, up_to: int) -> int:
        """How many of the tenant's tasks have not ended, counting no further than `up_to`."""
        ...


class MongoTaskStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._tasks = database["tasks"]
        self._events = database["task_events"]

    async def ensure_indexes(self) -> None:
        await self._tasks.create_index([("tenant", ASCENDING), ("created_at", DESCENDING)])

    async def load(self, task_id: str) -> TaskState | None:
        doc = await self._tasks.find_one({"_id": task_id}, {"state": 1})
        return TaskState.model_validate_json(doc["state"]) if doc else None

    async def append(self, task_id: str, slot: int, events: Sequence[TracedEvent]) -> bool:
        try:
            await self._events.insert_one(_slot_document(task_id, slot, events))
        except DuplicateKeyError:
            return False
        return True

    async def append_many(self, slots: Sequence[tuple[str, int, Sequence[TracedEvent]]]) -> list[bool]:
        if not slots:
            return []
        try:
            await self._events.insert_many([_slot_document(*slot) for slot in slots], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            taken = {e["index"] for e in errors}
            return [index not in taken for index in range(len(slots))]
        return [True] * len(slots)

    async def slot(self, task_id: str, slot: int) -> list[TracedEvent] | None:
        doc = await self._events.find_one({"_id": _slot_id(task_id, slot)})
        if doc is None:
            return None
        # A slot written before slots held several events holds one, at the top level.
        kept = doc.get("events", [doc])
        return [(_event(k["event"]), k.get("trace_id")) for k in kept]

    async def put(self, state: TaskState, log: list[LogEntry]) -> None:
        doc = _task_document(state, log)
        try:
            await self._tasks.replace_one({"_id": state.task_id}, doc, upsert=True)
        except DuplicateKeyError:  # two first writes of one task at once: the other one inserted it
            await self._tasks.replace_one({"_id": state.task_id}, doc)

    async def put_many(self, states: Sequence[tuple[TaskState, list[LogEntry]]]) -> None:
        if not states:
            return
        docs = [(state.task_id, _task_document(state, log)) for state, log in states]
        try:
            await self._tasks.bulk_write(
                [ReplaceOne({"_id": task_id}, doc, upsert=True) for task_id, doc in docs], ordered=False
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            for error in errors:  # first writes racing another replica's: it inserted the task
                task_id, doc = docs[error["index"]]
                await self._tasks.replace_one({"_id": task_id}, doc)

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

    async def count_open(self, tenant: str, up_to: int) -> int:
        ended = sorted(s.value for s in TERMINAL)
        return await self._tasks.count_documents({"tenant": tenant, "status": {"$nin": ended}}, limit=up_to)

    async def log_page(self, task_id: str, limit: int, cursor: str | None) -> list[LogEntry]:
        doc = await self._tasks.find_one({"_id": task_id}, {"log": 1})
        entries = _LOG.validate_json(doc["log"]) if doc and "log" in doc else []
        return _after(entries, cursor)[:limit]


@dataclass
class InMemoryTaskStore:
    """The fake: dicts of states, event logs and task logs."""

    tasks: dict[str, TaskState] = field(default_factory=dict)
    slots: dict[tuple[str, int], list[TracedEvent]] = field(default_factory=dict)
    logs: dict[str, list[LogEntry]] = field(default_factory=dict)

    async def load(self, task_id: str) -> TaskState | None:
        return self.tasks.get(task_id)

    async def append(self, task_id: str, slot: int, events: Sequence[TracedEvent]) -> bool:
        kept = list(events)
        return self.slots.setdefault((task_id, slot), kept) is kept

    async def slot(self, task_id: str, slot: int) -> list[TracedEvent] | None:
        found = self.slots.get((task_id, slot))
        return list(found) if found is not None else None

    def stored_events(self) -> list[str]:
        """The ids of every event in every slot, for tests: each should be there once."""
        return [event.event_id for kept in self.slots.values() for event, _ in kept]

    async def put(self, state: TaskState, log: list[LogEntry]) -> None:
        self.tasks[state.task_id] = state
        self.logs[state.task_id] = log

    async def append_many(self, slots: Sequence[tuple[str, int, Sequence[TracedEvent]]]) -> list[bool]:
        return [await self.append(*slot) for slot in slots]

    async def put_many(self, states: Sequence[tuple[TaskState, list[LogEntry]]]) -> None:
        for state, log in states:
            await self.put(state, log)

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
        return _after(self.logs.get(task_id, []), cursor)[:limit]

    async def count_open(self, tenant: str, up_to: int) -> int:
        return min(up_to, sum(t.tenant == tenant and not t.terminal for t in self.tasks.values()))


_LOG = TypeAdapter(list[LogEntry])


_DUPLICATE_KEY = 11000


def _slot_document(task_id: str, slot: int, events: Sequence[TracedEvent]) -> Document:
    kept = [{"event": event.model_dump_json(), "trace_id": trace_id} for event, trace_id in events]
    return {"_id": _slot_id(task_id, slot), "task_id": task_id, "events": kept}


def _task_document(state: TaskState, log: list[LogEntry]) -> Document:
    return {
        "tenant": state.tenant,
        "status": state.status.value,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "revision": state.revision,
        "state": state.model_dump_json(),
        "log": _LOG.dump_json(log).decode(),
    }


def _slot_id(task_id: str, slot: int) -> str:
    return f"{task_id}#{slot}"


def _after(entries: list[LogEntry], cursor: str | None) -> list[LogEntry]:
    """The entries (in time order) that come after the cursor's (time, event id)."""
    if not cursor:
        return entries
    after: tuple[datetime, str] = decode_cursor(cursor)
    return [e for e in entries if _log_order(e) > after]


def _event(text: str) -> ProjectedEvent:
    event = read_event(text.encode())
    assert event is not None, "only readable events are kept"
    return event


def _log_order(entry: LogEntry) -> tuple[datetime, str]:
    return to_millis(entry.time), entry.event_id
