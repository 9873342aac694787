"""Where tenant policies live: MongoDB (`tenant_policies`, one document per tenant), and an in-memory fake.

A tenant with no stored policy gets `TenantPolicy(tenant=...)`, which limits nothing beyond the task's own
settings. Reads may be served from a short cache (a few seconds), so an operator's change reaches every stage
within that time; writes always go to the database and drop the cached copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase

from schemas.policy import TenantPolicy
from troupe.db import Document

__all__ = ["InMemoryPolicyStore", "MongoPolicyStore", "PolicyStore"]


class PolicyStore(Protocol):
    async def get(self, tenant: str) -> TenantPolicy:
        """The tenant's stored policy, or the default one when none is stored."""
        ...

    async def put(self, policy: TenantPolicy) -> None: ...


class MongoPolicyStore:
    def __init__(
        self,
        database: AsyncDatabase[Document],
        cache_ttl_s: float = 2.0,
        collection: str = "tenant_policies",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._collection = database[collection]
        self._ttl = cache_ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, TenantPolicy]] = {}

    async def get(self, tenant: str) -> TenantPolicy:
        cached = self._cache.get(tenant)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        doc = await self._collection.find_one({"_id": tenant})
        policy = TenantPolicy.model_validate_json(doc["policy"]) if doc else TenantPolicy(tenant=tenant)
        if self._ttl > 0:
            self._cache[tenant] = (self._clock() + self._ttl, policy)
        return policy

    async def put(self, policy: TenantPolicy) -> None:
        # Stored as JSON text: field names stay the model's, whatever the server accepts as keys.
        await self._collection.replace_one(
            {"_id": policy.tenant}, {"_id": policy.tenant, "policy": policy.model_dump_json()}, upsert=True
        )
        self._cache.pop(policy.tenant, None)


class InMemoryPolicyStore:
    def __init__(self, *policies: TenantPolicy) -> None:
        self.policies: dict[str, TenantPolicy] = {p.tenant: p for p in policies}

    async def get(self, tenant: str) -> TenantPolicy:
        return self.policies.get(tenant) or TenantPolicy(tenant=tenant)

    async def put(self, policy: TenantPolicy) -> None:
        self.policies[policy.tenant] = policy
