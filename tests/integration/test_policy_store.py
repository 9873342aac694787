"""Tenant policies in the real MongoDB-wire server: stored per tenant, cached briefly for reads only."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from schemas.policy import ApprovalRules, TenantPolicy
from troupe.db import Document
from troupe.policy_store import MongoPolicyStore


async def test_a_policy_round_trips_and_other_tenants_keep_the_default(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoPolicyStore(database, cache_ttl_s=0)
    policy = TenantPolicy(
        tenant="acme",
        allowed_tools=["calculator", "http_client"],
        egress_hosts=["*.example.com"],
        approvals=ApprovalRules(tools=["python_exec"], file_writes=True),
        max_tasks_in_flight=3,
    )
    await store.put(policy)
    assert await store.get("acme") == policy
    assert await store.get("globex") == TenantPolicy(tenant="globex")


async def test_a_write_replaces_the_policy_and_drops_the_cached_copy(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoPolicyStore(database, cache_ttl_s=60)
    await store.put(TenantPolicy(tenant="acme", max_steps_per_plan=5))
    assert (await store.get("acme")).max_steps_per_plan == 5
    await store.put(TenantPolicy(tenant="acme", max_steps_per_plan=2))
    assert (await store.get("acme")).max_steps_per_plan == 2


async def test_reads_within_the_ttl_come_from_the_cache(database: AsyncDatabase[Document]) -> None:
    now = [0.0]
    reader = MongoPolicyStore(database, cache_ttl_s=5, clock=lambda: now[0])
    writer = MongoPolicyStore(database, cache_ttl_s=0)
    await writer.put(TenantPolicy(tenant="acme", max_iterations=4))
    assert (await reader.get("acme")).max_iterations == 4
    await writer.put(TenantPolicy(tenant="acme", max_iterations=1))
    assert (await reader.get("acme")).max_iterations == 4
    now[0] = 6.0
    assert (await reader.get("acme")).max_iterations == 1
