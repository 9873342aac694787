"""The gateway's MongoDB stores on the real MongoDB-wire server: races between writers come out right."""

from __future__ import annotations

import asyncio

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.auth import MongoKeyStore, Role
from gateway_svc.idempotency import Claim, MongoIdempotencyStore
from gateway_svc.projection_store import MongoTaskStore
from gateway_svc.projector import Projector
from gateway_svc.rate_limit import MongoCounters
from schemas import utc_now
from tests.unit.gateway.events import happy_path
from troupe.db import Document
from troupe.settings import Settings


async def test_a_duplicate_writes_nothing(database: AsyncDatabase[Document]) -> None:
    store = MongoTaskStore(database)
    projector = Projector(store)
    submitted = happy_path("t1")[0]
    first = await projector.apply(submitted)
    assert first is not None and first.revision == 1
    assert await projector.apply(submitted) is None
    assert await store.load("t1") == first


async def test_concurrent_projectors_lose_no_event(database: AsyncDatabase[Document]) -> None:
    store = MongoTaskStore(database)
    events = happy_path("t1")
    await asyncio.gather(*(Projector(store).apply(e) for e in events))
    state = await store.load("t1")
    assert state is not None
    assert state.revision == len(events)
    assert sorted(state.applied_events) == sorted(e.event_id for e in events)
    assert state.usage.llm_calls == 3
    assert len(await store.log_page("t1", 100, None)) == len(events)


async def test_a_batch_appends_one_slot_per_task_and_older_one_event_slots_still_read(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoTaskStore(database)
    events = happy_path("t1")
    # A slot as written before slots held several events: one event, at the top level.
    legacy = {"_id": "t1#0", "task_id": "t1", "trace_id": None, "event": events[0].model_dump_json()}
    await database["task_events"].insert_one(legacy)
    states = await Projector(store).apply_many([(e, None) for e in events[1:]])
    assert [s.revision for s in states] == [len(events)]
    assert await database["task_events"].count_documents({}) == 2
    slot = await store.slot("t1", 1)
    assert slot is not None and [e.event_id for e, _ in slot] == [e.event_id for e in events[1:]]


async def test_slots_appended_together_say_which_were_taken_and_the_free_ones_are_stored(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoTaskStore(database)
    one, two = happy_path("t1"), happy_path("t2")
    assert await store.append("t1", 0, [(one[0], None)])
    free = await store.append_many([("t1", 0, [(one[1], None)]), ("t2", 0, [(two[0], None)])])
    assert free == [False, True]
    assert [[e.event_id for e, _ in await store.slot(t, 0) or []] for t in ("t1", "t2")] == [
        [one[0].event_id],
        [two[0].event_id],
    ]


async def test_states_written_together_insert_new_tasks_and_replace_stored_ones(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoTaskStore(database)
    first = await Projector(store).apply(happy_path("t1")[0])
    assert first is not None
    tasks = {t: happy_path(t) for t in ("t1", "t2", "t3")}
    states = await Projector(store).apply_many([(e, None) for events in tasks.values() for e in events[1:3]])
    assert sorted(s.task_id for s in states) == ["t1", "t2", "t3"]
    for task_id in ("t1", "t2", "t3"):
        state = await store.load(task_id)
        assert state is not None and state.revision == (3 if task_id == "t1" else 2)


class Filters(monitoring.CommandListener):
    """The filter of every find, count, update, replace or delete a client sends."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Document]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if event.command_name in ("find", "count"):
            self.seen.append((event.command_name, command.get("filter", command.get("query", {}))))
        for change in command.get("updates", []) + command.get("deletes", []):
            self.seen.append((event.command_name, change["q"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_projecting_a_task_reads_and_writes_by_id_only(settings: Settings, unique: str) -> None:
    # FerretDB's SQLite backend answers only `_id` lookups without scanning the whole collection.
    filters = Filters()
    client: AsyncMongoClient[Document] = AsyncMongoClient(settings.mongodb_uri, event_listeners=[filters])
    try:
        store = MongoTaskStore(client[f"test_{unique}"])
        for event in happy_path("t1"):
            await Projector(store).apply(event)  # a replica that remembers nothing: the costliest path
        await store.log_page("t1", 100, None)
    finally:
        await client.drop_database(f"test_{unique}")
        await client.close()
    assert filters.seen, "the store sent no queries"
    assert {name for name, _ in filters.seen} >= {"find", "update"}
    assert all(set(query) == {"_id"} and isinstance(query["_id"], str) for _, query in filters.seen), (
        filters.seen
    )


async def test_one_idempotency_key_holds_one_task_whoever_claims_first(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoIdempotencyStore(database)
    claims = [
        Claim(tenant="acme", key="k", task_id=f"t{i}", fingerprint="f", submitted_at=utc_now())
        for i in range(5)
    ]
    held = await asyncio.gather(*(store.claim(c) for c in claims))
    assert len({c.task_id for c in held}) == 1
    other_tenant = await store.claim(claims[0].model_copy(update={"tenant": "globex", "task_id": "g"}))
    assert other_tenant.task_id == "g"


async def test_window_counters_count_every_concurrent_hit_across_replicas(
    database: AsyncDatabase[Document],
) -> None:
    replicas = [MongoCounters(database), MongoCounters(database)]
    await replicas[0].ensure_indexes()
    counts = await asyncio.gather(*(replicas[i % 2].hit("k", 100, 50) for i in range(20)))
    # Each request got a slot of its own: the counts are 1..20, whichever replica answered.
    assert sorted(counts) == list(range(1, 21))
    assert await database["rate_limit_hits"].count_documents({"window": 100}) == 20


async def test_window_counters_lease_blocks_so_most_hits_write_nothing(
    database: AsyncDatabase[Document],
) -> None:
    replicas = [MongoCounters(database), MongoCounters(database)]
    # A limit of 1000 a minute makes blocks of 10 slots: 40 hits over two replicas lease 4 blocks.
    counts = await asyncio.gather(*(replicas[i % 2].hit("k", 100, 1000) for i in range(40)))
    assert len(set(counts)) == 40 and max(counts) <= 40
    assert await database["rate_limit_hits"].count_documents({"window": 100}) == 4


async def test_leased_blocks_never_let_replicas_past_the_limit(database: AsyncDatabase[Document]) -> None:
    replicas = [MongoCounters(database, share=10) for _ in range(3)]  # limit 100: blocks of 10
    counts = await asyncio.gather(*(replicas[i % 3].hit("k", 100, 100) for i in range(150)))
    allowed = [c for c in counts if c <= 100]
    assert len(set(allowed)) == len(allowed)  # no slot handed out twice
    # Refused early by at most the slots left in the other replicas' blocks: (3 - 1) x (10 - 1).
    assert 100 - 2 * 9 <= len(allowed) <= 100


async def test_window_counters_stop_writing_past_the_limit_and_sweep_old_windows(
    database: AsyncDatabase[Document],
) -> None:
    counters = MongoCounters(database)
    counts = [await counters.hit("k", 100, 3) for _ in range(6)]
    assert counts[:3] == [1, 2, 3] and all(c > 3 for c in counts[3:])
    assert await database["rate_limit_hits"].count_documents({"window": 100}) == 3
    await MongoCounters(database).hit("k", 102, 3)  # a new window sweeps those before the previous one
    assert await database["rate_limit_hits"].count_documents({"window": 100}) == 0


async def test_keys_are_stored_hashed_and_found_by_token(database: AsyncDatabase[Document]) -> None:
    keys = MongoKeyStore(database)
    await keys.ensure_indexes()
    key, token = await keys.create("acme", Role.USER)
    found = await keys.find(token)
    assert found is not None and (found.key_id, found.tenant, found.role) == (key.key_id, "acme", Role.USER)
    assert await keys.find(token + "x") is None
    stored = await database["api_keys"].find_one({"_id": key.key_id})
    assert stored is not None and token not in str(stored)
    assert await keys.revoke(key.key_id)
    revoked = await keys.find(token)
    assert revoked is not None and revoked.revoked
    assert not await keys.revoke("k_missing")
