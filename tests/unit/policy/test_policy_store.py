"""The in-memory policy store behaves as the protocol says: a default policy when none is stored."""

from __future__ import annotations

from schemas.policy import TenantPolicy
from troupe.policy_store import InMemoryPolicyStore


async def test_a_tenant_without_a_stored_policy_gets_the_default_one() -> None:
    assert await InMemoryPolicyStore().get("acme") == TenantPolicy(tenant="acme")


async def test_a_stored_policy_is_returned_for_its_tenant_only() -> None:
    store = InMemoryPolicyStore()
    await store.put(TenantPolicy(tenant="acme", allowed_tools=["calculator"]))
    assert (await store.get("acme")).allowed_tools == ["calculator"]
    assert (await store.get("other")).allowed_tools is None
