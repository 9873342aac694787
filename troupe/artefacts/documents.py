"""How an artefact's description is kept in a document, shared by the database adapters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from schemas import ArtefactRef
from troupe.artefacts.store import StoredArtefact

__all__ = ["TaskBatch", "description_fields", "stored_from", "task_batches", "utc"]

_TASKS_PER_QUERY = 500


def description_fields(ref: ArtefactRef, tenant: str, task_id: str, key: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "task_id": task_id,
        "key": key,
        "media_type": ref.media_type,
        "sha256": ref.sha256,
        "preview": ref.preview,
        "size": ref.size,
    }


def stored_from(artefact_id: str, fields: dict[str, Any], stored_at: datetime | None) -> StoredArtefact:
    ref = ArtefactRef(
        id=artefact_id,
        size=fields["size"],
        media_type=fields["media_type"],
        sha256=fields["sha256"],
        preview=fields["preview"],
    )
    return StoredArtefact(ref, fields["tenant"], fields["task_id"], fields.get("key", ""), utc(stored_at))


def utc(time: Any) -> datetime | None:
    """A stored time as an aware datetime; a client without tz_aware reads UTC times as naive ones."""
    if not isinstance(time, datetime):
        return None
    return time if time.tzinfo is not None else time.replace(tzinfo=UTC)


@dataclass(frozen=True)
class TaskBatch:
    """Some (tenant, task id)s, found with one query by task id: a server that scans for any filter other
    than `_id` (FerretDB's SQLite backend) then reads the descriptions once per batch, not once per task."""

    tasks: frozenset[tuple[str, str]]

    def query(self, task_field: str) -> dict[str, Any]:
        return {task_field: {"$in": sorted({task_id for _, task_id in self.tasks})}}

    def holds(self, tenant: str, task_id: str) -> bool:
        return (tenant, task_id) in self.tasks


def task_batches(tasks: Sequence[tuple[str, str]]) -> Iterator[TaskBatch]:
    for first in range(0, len(tasks), _TASKS_PER_QUERY):
        yield TaskBatch(frozenset(tasks[first : first + _TASKS_PER_QUERY]))
