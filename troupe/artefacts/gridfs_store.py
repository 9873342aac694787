"""Artefacts in GridFS (PyMongo's AsyncGridFSBucket): chunks in `<bucket>.chunks`, the description in the
file document's metadata. Checked against FerretDB 1.24 (tests/integration/test_artefact_stores.py)."""

from __future__ import annotations

from collections.abc import Sequence

from gridfs import AsyncGridFSBucket
from gridfs.errors import FileExists, NoFile
from pymongo.asynchronous.database import AsyncDatabase

from schemas import ArtefactRef
from troupe.artefacts.documents import description_fields, stored_from, task_batches, utc
from troupe.artefacts.store import ArtefactNotFound, StoredArtefact, TaskArtefacts, by_task, describe
from troupe.db import Document

__all__ = ["GridFSArtefacts"]

_SHOWN = {"metadata.deleting": {"$exists": False}}  # not being deleted
_DELETE_BATCH = 500


class GridFSArtefacts:
    def __init__(self, database: AsyncDatabase[Document], bucket: str = "artefacts") -> None:
        self._bucket = AsyncGridFSBucket(database, bucket_name=bucket)
        self._files = database[f"{bucket}.files"]
        self._chunks = database[f"{bucket}.chunks"]

    async def ensure_indexes(self) -> None:
        await self._files.create_index([("metadata.tenant", 1), ("metadata.task_id", 1)])
        await self._chunks.create_index([("files_id", 1), ("n", 1)], unique=True)

    async def put(self, tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
        ref = describe(tenant, task_id, key, data, media_type)
        if await self._files.find_one({"_id": ref.id}, {"_id": 1}) is not None:
            return ref  # stored before: the id covers tenant, task, key and content
        metadata = description_fields(ref, tenant, task_id, key)
        try:
            await self._bucket.upload_from_stream_with_id(ref.id, key, data, metadata=metadata)
        except FileExists:
            if await self._files.find_one({"_id": ref.id}, {"_id": 1}) is not None:
                return ref  # a concurrent put of the same content finished first
            # Chunks of an upload that died before its file document: start again.
            await self._chunks.delete_many({"files_id": ref.id})
            await self._bucket.upload_from_stream_with_id(ref.id, key, data, metadata=metadata)
        return ref

    async def find(self, tenant: str, artefact_id: str) -> StoredArtefact:
        doc = await self._files.find_one({"_id": artefact_id, "metadata.tenant": tenant, **_SHOWN})
        if doc is None:
            raise ArtefactNotFound(artefact_id)
        return stored_from(artefact_id, doc["metadata"], doc.get("uploadDate"))

    async def get(self, tenant: str, artefact_id: str) -> bytes:
        stored = await self.find(tenant, artefact_id)
        return await self.read_range(tenant, artefact_id, 0, stored.ref.size, checked=True)

    async def read_range(
        self, tenant: str, artefact_id: str, start: int, length: int, *, checked: bool = False
    ) -> bytes:
        if not checked:
            await self.find(tenant, artefact_id)
        try:
            stream = await self._bucket.open_download_stream(artefact_id)
        except NoFile:
            raise ArtefactNotFound(artefact_id) from None
        await stream.seek(start)
        return await stream.read(max(length, 0))

    async def list_for_task(self, tenant: str, task_id: str) -> list[StoredArtefact]:
        mine = {"metadata.tenant": tenant, "metadata.task_id": task_id, **_SHOWN}
        found = self._files.find(mine).sort("_id", 1)
        return [stored_from(doc["_id"], doc["metadata"], doc.get("uploadDate")) async for doc in found]

    async def tasks_with_artefacts(self) -> list[TaskArtefacts]:
        found = self._files.find({}, {"metadata.tenant": 1, "metadata.task_id": 1, "uploadDate": 1})
        return by_task(
            [
                (d["metadata"]["tenant"], d["metadata"]["task_id"], utc(d.get("uploadDate")))
                async for d in found
            ]
        )

    async def delete_for_task(self, tenant: str, task_id: str) -> int:
        return await self.delete_for_tasks([(tenant, task_id)])

    async def delete_for_tasks(self, tasks: Sequence[tuple[str, str]]) -> int:
        """Hides each artefact, then removes the chunks of many at once, then the file documents: a sweep
        that dies midway leaves hidden artefacts that the next one finds and finishes, never lost chunks."""
        ids: list[str] = []
        for batch in task_batches(tasks):
            found = self._files.find(batch.query("metadata.task_id"), {"metadata": 1})
            ids += [
                d["_id"]
                async for d in found
                if batch.holds(d["metadata"]["tenant"], d["metadata"]["task_id"])
            ]
        for artefact_id in ids:
            await self._files.update_one({"_id": artefact_id}, {"$set": {"metadata.deleting": True}})
        # By `files_id` the server may read every chunk (FerretDB's SQLite backend does): once per batch.
        for first in range(0, len(ids), _DELETE_BATCH):
            await self._chunks.delete_many({"files_id": {"$in": ids[first : first + _DELETE_BATCH]}})
        for artefact_id in ids:
            await self._files.delete_one({"_id": artefact_id})
        return len(ids)
