"""Which database adapter keeps artefacts: GridFS where the server handles what the store uses, else plain
chunk documents. TROUPE_ARTEFACT_STORE picks one outright; `auto` tries GridFS once, at start."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Literal

from pymongo.asynchronous.database import AsyncDatabase

from schemas import ArtefactRef
from troupe.artefacts.chunk_store import ChunkArtefacts
from troupe.artefacts.gridfs_store import GridFSArtefacts
from troupe.artefacts.store import ArtefactStore, StoredArtefact, TaskArtefacts
from troupe.db import Document
from troupe.errors import is_transient
from troupe.logs import get_logger

__all__ = ["SelectedArtefacts", "StoreKind", "gridfs_works"]

StoreKind = Literal["auto", "gridfs", "chunks"]
_PROBE_TENANT = "troupe.probe"

log = get_logger(__name__)


async def gridfs_works(store: GridFSArtefacts) -> bool:
    """Whether a write, a range read across chunks, a listing and a delete all do what they should."""
    task_id = uuid.uuid4().hex
    data = os.urandom(300 * 1024)  # two GridFS chunks
    try:
        ref = await store.put(_PROBE_TENANT, task_id, "probe", data, "application/octet-stream")
        ranged = await store.read_range(_PROBE_TENANT, ref.id, 255 * 1024 - 10, 20)
        listed = await store.list_for_task(_PROBE_TENANT, task_id)
        removed = await store.delete_for_task(_PROBE_TENANT, task_id)
        left = await store.list_for_task(_PROBE_TENANT, task_id)
    except Exception as exc:
        if is_transient(exc):
            raise  # an outage says nothing about GridFS: the start waits for the server
        log.warning("artefacts.gridfs_unusable", error=repr(exc))
        return False
    works = ranged == data[255 * 1024 - 10 : 255 * 1024 + 10] and [s.ref.id for s in listed] == [ref.id]
    return works and removed == 1 and not left


class SelectedArtefacts:
    """The store TROUPE_ARTEFACT_STORE names; with `auto`, chosen by `prepare()` (or at first use)."""

    def __init__(self, database: AsyncDatabase[Document], kind: StoreKind = "auto") -> None:
        self._gridfs = GridFSArtefacts(database)
        self._chunks = ChunkArtefacts(database)
        self._kind = kind
        self._chosen: ArtefactStore | None = None

    async def prepare(self) -> str:
        """Create the chosen store's indexes; the name of the adapter in use."""
        if self._kind == "chunks" or (self._kind == "auto" and not await gridfs_works(self._gridfs)):
            await self._chunks.ensure_indexes()
            self._chosen, name = self._chunks, "chunks"
        else:
            await self._gridfs.ensure_indexes()
            self._chosen, name = self._gridfs, "gridfs"
        log.info("artefacts.store", adapter=name)
        return name

    async def _store(self) -> ArtefactStore:
        if self._chosen is None:
            await self.prepare()
        assert self._chosen is not None
        return self._chosen

    async def put(self, tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
        return await (await self._store()).put(tenant, task_id, key, data, media_type)

    async def find(self, tenant: str, artefact_id: str) -> StoredArtefact:
        return await (await self._store()).find(tenant, artefact_id)

    async def get(self, tenant: str, artefact_id: str) -> bytes:
        return await (await self._store()).get(tenant, artefact_id)

    async def read_range(self, tenant: str, artefact_id: str, start: int, length: int) -> bytes:
        return await (await self._store()).read_range(tenant, artefact_id, start, length)

    async def list_for_task(self, tenant: str, task_id: str) -> list[StoredArtefact]:
        return await (await self._store()).list_for_task(tenant, task_id)

    async def tasks_with_artefacts(self) -> list[TaskArtefacts]:
        return await (await self._store()).tasks_with_artefacts()

    async def delete_for_task(self, tenant: str, task_id: str) -> int:
        return await (await self._store()).delete_for_task(tenant, task_id)

    async def delete_for_tasks(self, tasks: Sequence[tuple[str, str]]) -> int:
        return await (await self._store()).delete_for_tasks(tasks)
