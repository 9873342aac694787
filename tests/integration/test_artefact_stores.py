"""Both artefact adapters against the real MongoDB-wire server (FerretDB locally): what the store relies on."""

from __future__ import annotations

import hashlib
import os

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from troupe.artefacts import (
    ArtefactNotFound,
    ChunkArtefacts,
    GridFSArtefacts,
    SelectedArtefacts,
    gridfs_works,
)
from troupe.db import Document

Adapter = GridFSArtefacts | ChunkArtefacts
THREE_MB = 3 * 1024 * 1024 + 12_345  # not a multiple of any chunk size


@pytest.fixture(params=["gridfs", "chunks"])
async def store(request: pytest.FixtureRequest, database: AsyncDatabase[Document]) -> Adapter:
    adapter: Adapter = GridFSArtefacts(database) if request.param == "gridfs" else ChunkArtefacts(database)
    await adapter.ensure_indexes()
    return adapter


async def test_three_megabytes_come_back_byte_identical(store: Adapter) -> None:
    data = os.urandom(THREE_MB)
    ref = await store.put("acme", "t-1", "1/s1", data, "application/octet-stream")
    assert (ref.size, ref.sha256) == (THREE_MB, hashlib.sha256(data).hexdigest())
    assert await store.get("acme", ref.id) == data
    assert (await store.find("acme", ref.id)).ref == ref


async def test_range_reads_cross_chunk_boundaries_and_stop_at_the_end(store: Adapter) -> None:
    data = os.urandom(THREE_MB)
    ref = await store.put("acme", "t-1", "1/s1", data, "application/octet-stream")
    for start, length in ((0, 10), (255 * 1024 - 7, 20), (1_000_000, 700_000), (THREE_MB - 5, 100)):
        assert await store.read_range("acme", ref.id, start, length) == data[start : start + length]
    assert await store.read_range("acme", ref.id, THREE_MB, 10) == b""


async def test_another_tenant_finds_nothing(store: Adapter) -> None:
    ref = await store.put("acme", "t-1", "1/s1", b"secret" * 10_000, "text/plain")
    for read in (
        store.get("globex", ref.id),
        store.find("globex", ref.id),
        store.read_range("globex", ref.id, 0, 10),
    ):
        with pytest.raises(ArtefactNotFound):
            await read
    assert await store.list_for_task("globex", "t-1") == []
    assert await store.delete_for_task("globex", "t-1") == 0
    assert await store.get("acme", ref.id) == b"secret" * 10_000


async def test_the_same_content_is_stored_once_under_the_same_id(store: Adapter) -> None:
    data = os.urandom(400_000)
    first = await store.put("acme", "t-1", "1/s1", data, "application/json")
    again = await store.put("acme", "t-1", "1/s1", data, "application/json")
    other = await store.put("acme", "t-1", "2/s1", data, "application/json")
    assert first == again and other.id != first.id
    assert sorted(s.ref.id for s in await store.list_for_task("acme", "t-1")) == sorted([first.id, other.id])


async def test_deleting_a_task_removes_its_artefacts_and_their_chunks(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    kept = await store.put("acme", "t-2", "1/s1", os.urandom(300_000), "text/plain")
    gone = [await store.put("acme", "t-1", f"1/s{i}", os.urandom(600_000), "text/plain") for i in range(2)]
    assert await store.delete_for_task("acme", "t-1") == 2
    assert await store.list_for_task("acme", "t-1") == []
    for ref in gone:
        with pytest.raises(ArtefactNotFound):
            await store.get("acme", ref.id)
    chunks = "artefacts.chunks" if isinstance(store, GridFSArtefacts) else "artefacts_chunks"
    field = "files_id" if isinstance(store, GridFSArtefacts) else "artefact_id"
    assert await database[chunks].count_documents({field: {"$in": [r.id for r in gone]}}) == 0
    assert len(await store.get("acme", kept.id)) == 300_000


async def test_an_upload_that_died_before_its_description_is_redone(store: Adapter) -> None:
    data = os.urandom(600_000)
    ref = await store.put("acme", "t-1", "1/s1", data, "text/plain")
    # Leave the chunks, lose the description: what a process killed mid-upload leaves behind.
    described = store._files if isinstance(store, GridFSArtefacts) else store._described
    await described.delete_one({"_id": ref.id})
    assert await store.put("acme", "t-1", "1/s1", data, "text/plain") == ref
    assert await store.get("acme", ref.id) == data


async def test_the_indexes_the_store_relies_on_exist(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    if isinstance(store, GridFSArtefacts):
        files, chunks = "artefacts.files", "artefacts.chunks"
        by_task, by_chunk = [("metadata.tenant", 1), ("metadata.task_id", 1)], [("files_id", 1), ("n", 1)]
    else:
        files, chunks = "artefacts", "artefacts_chunks"
        by_task, by_chunk = [("tenant", 1), ("task_id", 1)], [("artefact_id", 1), ("n", 1)]
    file_keys = [i["key"] for i in (await database[files].index_information()).values()]
    chunk_indexes = list((await database[chunks].index_information()).values())
    assert by_task in [list(k) for k in file_keys]
    assert any(list(i["key"]) == by_chunk and i.get("unique") for i in chunk_indexes)


async def test_gridfs_passes_the_capability_check_here(database: AsyncDatabase[Document]) -> None:
    assert await gridfs_works(GridFSArtefacts(database))
    assert await SelectedArtefacts(database, "auto").prepare() == "gridfs"
    assert await SelectedArtefacts(database, "chunks").prepare() == "chunks"
