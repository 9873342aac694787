"""Artefacts as plain documents, for a MongoDB-wire server without working GridFS: fixed-size chunks in
`artefact_chunks` (written first, idempotently), then the description in `artefacts`, which makes it visible."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo import DeleteOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from schemas import ArtefactRef
from troupe.artefacts.documents import description_fields, stored_from, task_batches, utc
from troupe.artefacts.store import ArtefactNotFound, StoredArtefact, TaskArtefacts, by_task, describe
from troupe.db import Document

__all__ = ["ChunkArtefacts"]

CHUNK_BYTES = 255 * 1024
_SHOWN = {"deleting": {"$exists": False}}  # not being deleted


class ChunkArtefacts:
    def __init__(self, database: AsyncDatabase[Document], collection: str = "artefacts") -> None:
        self._described = database[collection]
        self._chunks = database[f"{collection}_chunks"]

    async def ensure_indexes(self) -> None:
        await self._described.create_index([("tenant", 1), ("task_id", 1)])
        await self._chunks.create_index([("artefact_id", 1), ("n", 1)], unique=True)

    async def put(self, tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
        ref = describe(tenant, task_id, key, data, media_type)
        if await self._described.find_one({"_id": ref.id}, {"_id": 1}) is not None:
            return ref
        writes = [
            ReplaceOne(
                {"_id": f"{ref.id}:{n}"},
                {"artefact_id": ref.id, "n": n, "data": data[offset : offset + CHUNK_BYTES]},
                upsert=True,
            )
            for n, offset in enumerate(range(0, len(data), CHUNK_BYTES))
        ]
        # A few chunks per call keeps each request well under the 16 MiB a command may carry.
        for first in range(0, len(writes), 16):
            await self._chunks.bulk_write(writes[first : first + 16], ordered=False)
        fields = description_fields(ref, tenant, task_id, key) | {
            "chunk_bytes": CHUNK_BYTES,
            "created_at": datetime.now(UTC),
        }
        await self._described.replace_one({"_id": ref.id}, fields, upsert=True)
        return ref

    async def find(self, tenant: str, artefact_id: str) -> StoredArtefact:
        doc = await self._described.find_one({"_id": artefact_id, "tenant": tenant, **_SHOWN})
        if doc is None:
            raise ArtefactNotFound(artefact_id)
        return stored_from(artefact_id, doc, doc.get("created_at"))

    async def get(self, tenant: str, artefact_id: str) -> bytes:
        stored = await self.find(tenant, artefact_id)
        return await self.read_range(tenant, artefact_id, 0, stored.ref.size)

    async def read_range(self, tenant: str, artefact_id: str, start: int, length: int) -> bytes:
        doc = await self._described.find_one({"_id": artefact_id, "tenant": tenant, **_SHOWN})
        if doc is None:
            raise ArtefactNotFound(artefact_id)
        end = min(start + max(length, 0), doc["size"])
        if end <= start:
            return b""
        size = doc["chunk_bytes"]
        first, last = start // size, (end - 1) // size
        found = self._chunks.find({"artefact_id": artefact_id, "n": {"$gte": first, "$lte": last}}).sort(
            "n", 1
        )
        data = b"".join([bytes(chunk["data"]) async for chunk in found])
        return data[start - first * size : end - first * size]

    async def list_for_task(self, tenant: str, task_id: str) -> list[StoredArtefact]:
        found = self._described.find({"tenant": tenant, "task_id": task_id, **_SHOWN}).sort("_id", 1)
        return [stored_from(doc["_id"], doc, doc.get("created_at")) async for doc in found]

    async def tasks_with_artefacts(self) -> list[TaskArtefacts]:
        found = self._described.find({}, {"tenant": 1, "task_id": 1, "created_at": 1})
        return by_task([(d["tenant"], d["task_id"], utc(d.get("created_at"))) async for d in found])

    async def delete_for_task(self, tenant: str, task_id: str) -> int:
        return await self.delete_for_tasks([(tenant, task_id)])

    async def delete_for_tasks(self, tasks: Sequence[tuple[str, str]]) -> int:
        """Hides each artefact, removes its chunks by their `_id`s, then its description: a sweep that dies
        midway leaves hidden artefacts that the next one finds and finishes, never lost chunks."""
        described: list[Document] = []
        for batch in task_batches(tasks):
            fields = {"tenant": 1, "task_id": 1, "size": 1, "chunk_bytes": 1}
            found = self._described.find(batch.query("task_id"), fields)
            described += [doc async for doc in found if batch.holds(doc["tenant"], doc["task_id"])]
        for doc in described:
            await self._described.update_one({"_id": doc["_id"]}, {"$set": {"deleting": True}})
            # Chunk ids follow from the size, and a lookup by `_id` is the one every server does without a
            # scan (FerretDB's SQLite backend reads the whole collection for `artefact_id`).
            count = -(-doc["size"] // doc["chunk_bytes"])
            chunks = [DeleteOne({"_id": f"{doc['_id']}:{n}"}) for n in range(count)]
            for first in range(0, len(chunks), 100):
                await self._chunks.bulk_write(chunks[first : first + 100], ordered=False)
            await self._described.delete_one({"_id": doc["_id"]})
        return len(described)
