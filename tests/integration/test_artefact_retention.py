"""Retention on both artefact adapters and the task projection, on the real MongoDB-wire server: the
artefacts of tasks that ended past retention go with their chunks; running, recent and other tenants' stay."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.artefact_retention import task_ends
from gateway_svc.projection_store import MongoTaskStore
from gateway_svc.task_state import TaskState, TaskStatus
from schemas import ArtefactRef, utc_now
from troupe.artefacts import ArtefactNotFound, ChunkArtefacts, GridFSArtefacts, TaskArtefacts, prune
from troupe.db import Document

Adapter = GridFSArtefacts | ChunkArtefacts
DAYS_30 = timedelta(days=30)
# The sweep's clock, 100 days on: an artefact stored now is then 100 days old.
LATER = utc_now() + timedelta(days=100)


@pytest.fixture(params=["gridfs", "chunks"])
async def store(request: pytest.FixtureRequest, database: AsyncDatabase[Document]) -> Adapter:
    adapter: Adapter = GridFSArtefacts(database) if request.param == "gridfs" else ChunkArtefacts(database)
    await adapter.ensure_indexes()
    return adapter


async def projected(
    database: AsyncDatabase[Document], task_id: str, tenant: str, status: str, at: datetime
) -> None:
    """The task as the gateway's projection keeps it, last changed at `at`."""
    state = TaskState(task_id=task_id, tenant=tenant, status=TaskStatus(status), created_at=at, updated_at=at)
    await MongoTaskStore(database).put(state, [])


async def chunks_of(store: Adapter, database: AsyncDatabase[Document], refs: list[ArtefactRef]) -> int:
    chunks, field = (
        ("artefacts.chunks", "files_id")
        if isinstance(store, GridFSArtefacts)
        else ("artefacts_chunks", "artefact_id")
    )
    return await database[chunks].count_documents({field: {"$in": [r.id for r in refs]}})


async def test_artefacts_of_tasks_ended_past_retention_go_with_their_chunks_and_the_rest_stay(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    await projected(database, "t-old", "acme", "succeeded", LATER - timedelta(days=31))
    await projected(database, "t-recent", "acme", "failed", LATER - timedelta(days=29))
    await projected(database, "t-running", "acme", "executing", LATER - timedelta(days=60))
    await projected(database, "t-globex", "globex", "succeeded", LATER - timedelta(days=1))
    old = [await store.put("acme", "t-old", f"1/s{i}", os.urandom(600_000), "text/plain") for i in range(2)]
    kept = {
        ("acme", "t-recent"): os.urandom(300_000),
        ("acme", "t-running"): os.urandom(300_000),
        ("globex", "t-globex"): os.urandom(300_000),
    }
    kept_refs = {owner: await store.put(*owner, "1/s1", data, "text/plain") for owner, data in kept.items()}
    assert await chunks_of(store, database, old) == 6  # 3 chunks of 255 KiB each

    pruned = await prune(store, task_ends(MongoTaskStore(database)), DAYS_30, LATER)

    assert [(t.tenant, t.task_id) for t in pruned.tasks] == [("acme", "t-old")]
    assert pruned.artefacts == 2
    assert await store.list_for_task("acme", "t-old") == []
    for ref in old:
        with pytest.raises(ArtefactNotFound):
            await store.get("acme", ref.id)
    assert await chunks_of(store, database, old) == 0
    for (tenant, task_id), data in kept.items():
        [listed] = await store.list_for_task(tenant, task_id)
        assert listed.ref == kept_refs[tenant, task_id]
        assert await store.get(tenant, listed.ref.id) == data
    # A second sweep finds nothing more to do.
    assert (await prune(store, task_ends(MongoTaskStore(database)), DAYS_30, LATER)).tasks == []


async def test_artefacts_of_a_task_the_projection_does_not_know_go_by_when_they_were_stored(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    stored_at = utc_now()
    ref = await store.put("acme", "t-unknown", "1/s1", os.urandom(300_000), "text/plain")
    # Projected under another tenant: no API call reaches acme's artefacts of it either.
    await projected(database, "t-foreign", "globex", "executing", stored_at)
    foreign = await store.put("acme", "t-foreign", "1/s1", os.urandom(1_000), "text/plain")
    [found, unknown] = await store.tasks_with_artefacts()
    assert (found.task_id, unknown.task_id) == ("t-foreign", "t-unknown")
    assert unknown.last_stored is not None and abs(unknown.last_stored - stored_at) < timedelta(minutes=1)
    ends = task_ends(MongoTaskStore(database))

    assert (await prune(store, ends, DAYS_30, stored_at + timedelta(days=29))).tasks == []
    assert len(await store.list_for_task("acme", "t-unknown")) == 1

    pruned = await prune(store, ends, DAYS_30, stored_at + timedelta(days=31))
    assert sorted(t.task_id for t in pruned.tasks) == ["t-foreign", "t-unknown"]
    assert await chunks_of(store, database, [ref, foreign]) == 0


async def test_a_retention_of_zero_keeps_everything(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    await projected(database, "t-old", "acme", "succeeded", LATER - timedelta(days=3_000))
    await store.put("acme", "t-old", "1/s1", b"x" * 40_000, "text/plain")
    pruned = await prune(store, task_ends(MongoTaskStore(database)), timedelta(0), LATER)
    assert pruned.tasks == [] and len(await store.list_for_task("acme", "t-old")) == 1


async def test_a_dry_run_names_what_would_go_and_removes_nothing(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    await projected(database, "t-old", "acme", "cancelled", LATER - timedelta(days=31))
    await store.put("acme", "t-old", "1/s1", b"x" * 40_000, "text/plain")
    pruned = await prune(store, task_ends(MongoTaskStore(database)), DAYS_30, LATER, dry_run=True)
    assert pruned.tasks == [TaskArtefacts("acme", "t-old", pruned.tasks[0].last_stored)]
    assert pruned.artefacts == 1 and len(await store.list_for_task("acme", "t-old")) == 1


async def test_a_deletion_that_died_midway_is_hidden_and_the_next_sweep_finishes_it(
    store: Adapter, database: AsyncDatabase[Document]
) -> None:
    await projected(database, "t-old", "acme", "succeeded", LATER - timedelta(days=31))
    ref = await store.put("acme", "t-old", "1/s1", os.urandom(600_000), "text/plain")
    # What a sweep leaves when it dies after hiding the artefact, before removing its chunks.
    if isinstance(store, GridFSArtefacts):
        await database["artefacts.files"].update_one({"_id": ref.id}, {"$set": {"metadata.deleting": True}})
    else:
        await database["artefacts"].update_one({"_id": ref.id}, {"$set": {"deleting": True}})
    with pytest.raises(ArtefactNotFound):
        await store.find("acme", ref.id)
    assert await store.list_for_task("acme", "t-old") == []
    assert await chunks_of(store, database, [ref]) == 3

    pruned = await prune(store, task_ends(MongoTaskStore(database)), DAYS_30, LATER)
    assert pruned.artefacts == 1 and await chunks_of(store, database, [ref]) == 0
    assert await store.tasks_with_artefacts() == []
