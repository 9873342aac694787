"""The artefact store's interface: large outputs kept once, per tenant, and fetched back by id."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas import ArtefactRef
from schemas.artefacts import PREVIEW_CHARS

__all__ = [
    "ArtefactNotFound",
    "ArtefactStore",
    "StoredArtefact",
    "TaskArtefacts",
    "artefact_id",
    "by_task",
    "describe",
]

_ID_NAMESPACE = uuid.UUID("0b7e4f1a-3c52-4f0e-8d1d-6a0f2b9c7e35")


class ArtefactNotFound(LookupError):
    """No such artefact for this tenant: another tenant's artefacts are as absent as unknown ones."""

    def __init__(self, artefact_id: str) -> None:
        super().__init__(f"artefact {artefact_id} not found")
        self.artefact_id = artefact_id


@dataclass(frozen=True)
class StoredArtefact:
    """An artefact's reference and whose it is; `key` is "<iteration>/<step id>" of the step that made it."""

    ref: ArtefactRef
    tenant: str
    task_id: str
    key: str = ""
    stored_at: datetime | None = None  # None for a description written before the time was kept


@dataclass(frozen=True)
class TaskArtefacts:
    """One task that has artefacts, and when the newest of them was stored (None if any is undated)."""

    tenant: str
    task_id: str
    last_stored: datetime | None


class ArtefactStore(Protocol):
    async def put(self, tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
        """Store `data` once: the id comes from tenant, task, `key` and content, so a repeat returns the same."""
        ...

    async def find(self, tenant: str, artefact_id: str) -> StoredArtefact:
        """The artefact's description, or ArtefactNotFound."""
        ...

    async def get(self, tenant: str, artefact_id: str) -> bytes: ...

    async def read_range(self, tenant: str, artefact_id: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (fewer at the end)."""
        ...

    async def list_for_task(self, tenant: str, task_id: str) -> list[StoredArtefact]:
        """The task's artefacts, by id."""
        ...

    async def tasks_with_artefacts(self) -> list[TaskArtefacts]:
        """Every (tenant, task) that has artefacts, across tenants: what a retention sweep goes through."""
        ...

    async def delete_for_task(self, tenant: str, task_id: str) -> int:
        """Remove the task's artefacts and all their bytes; how many there were."""
        ...

    async def delete_for_tasks(self, tasks: Sequence[tuple[str, str]]) -> int:
        """Remove the artefacts of these (tenant, task id)s, in fewer round trips than one task at a time."""
        ...


def artefact_id(tenant: str, task_id: str, key: str, sha256: str) -> str:
    return uuid.uuid5(_ID_NAMESPACE, "/".join((tenant, task_id, key, sha256))).hex


def describe(tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
    """The reference `data` gets when stored under `key`."""
    digest = hashlib.sha256(data).hexdigest()
    preview = data[: PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:PREVIEW_CHARS]
    return ArtefactRef(
        id=artefact_id(tenant, task_id, key, digest),
        size=len(data),
        media_type=media_type,
        sha256=digest,
        preview=preview,
    )


def by_task(stored: Iterable[tuple[str, str, datetime | None]]) -> list[TaskArtefacts]:
    """(tenant, task id, stored at) of each artefact, as one entry per task with its newest time."""
    newest: dict[tuple[str, str], datetime | None] = {}
    for tenant, task_id, stored_at in stored:
        known = newest.get((tenant, task_id), stored_at)
        newest[tenant, task_id] = None if known is None or stored_at is None else max(known, stored_at)
    return [TaskArtefacts(tenant, task_id, last) for (tenant, task_id), last in sorted(newest.items())]
