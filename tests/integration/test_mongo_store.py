"""The MongoDB-wire server answers the operations Troupe's stores rely on, through PyMongo's async API."""

from __future__ import annotations

import pytest
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from troupe.db import Document


async def test_insert_and_find_with_filter_sort_and_limit(database: AsyncDatabase[Document]) -> None:
    tasks = database["tasks"]
    await tasks.insert_many([{"_id": f"t{i}", "tenant": "a" if i % 2 else "b", "n": i} for i in range(6)])
    found = await tasks.find({"tenant": "a"}).sort("n", DESCENDING).limit(2).to_list()
    assert [d["_id"] for d in found] == ["t5", "t3"]
    assert await tasks.count_documents({"tenant": "b"}) == 3


async def test_update_sets_pushes_and_increments(database: AsyncDatabase[Document]) -> None:
    tasks = database["tasks"]
    await tasks.insert_one({"_id": "t1", "status": "submitted", "log": [], "events": 0})
    await tasks.update_one(
        {"_id": "t1"}, {"$set": {"status": "planning"}, "$push": {"log": "planned"}, "$inc": {"events": 1}}
    )
    assert await tasks.find_one({"_id": "t1"}) == {
        "_id": "t1",
        "status": "planning",
        "log": ["planned"],
        "events": 1,
    }


async def test_upsert_creates_then_updates_one_document(database: AsyncDatabase[Document]) -> None:
    tasks = database["tasks"]
    for status in ("submitted", "running"):
        await tasks.update_one(
            {"_id": "t1"}, {"$set": {"status": status}, "$setOnInsert": {"tenant": "a"}}, upsert=True
        )
    after = await tasks.find_one_and_update(
        {"_id": "t1"}, {"$max": {"iteration": 2}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert after == {"_id": "t1", "status": "running", "tenant": "a", "iteration": 2}
    assert await tasks.count_documents({}) == 1


async def test_unique_index_refuses_a_duplicate(database: AsyncDatabase[Document]) -> None:
    keys = database["idempotency_keys"]
    await keys.create_index([("tenant", ASCENDING), ("key", ASCENDING)], unique=True)
    await keys.insert_one({"tenant": "a", "key": "k1", "task_id": "t1"})
    await keys.insert_one({"tenant": "b", "key": "k1", "task_id": "t2"})
    with pytest.raises(DuplicateKeyError):
        await keys.insert_one({"tenant": "a", "key": "k1", "task_id": "t3"})
    assert await keys.count_documents({}) == 2
