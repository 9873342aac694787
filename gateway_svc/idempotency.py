"""Idempotency keys: a retried POST /tasks with the same key answers with the same task, published once.

The claim is written before the publish and marked `published` after it, so a gateway that dies in between
is repaired by the client's retry: the same task id and event id are published again (the projection and
the planner recognise the event id), and the claim is marked then.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from troupe.db import Document

__all__ = ["Claim", "IdempotencyStore", "InMemoryIdempotencyStore", "MongoIdempotencyStore", "fingerprint"]


class Claim(BaseModel):
    """Which task an idempotency key stands for, and a digest of the request it was first sent with."""

    tenant: str
    key: str
    task_id: str
    fingerprint: str
    submitted_at: datetime
    published: bool = False


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class IdempotencyStore(Protocol):
    async def claim(self, claim: Claim) -> Claim:
        """Store `claim` unless the tenant's key is taken; returns the claim that holds the key."""
        ...

    async def mark_published(self, tenant: str, key: str) -> None: ...


class MongoIdempotencyStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._claims = database["idempotency_keys"]

    async def claim(self, claim: Claim) -> Claim:
        try:
            await self._claims.insert_one({"_id": _id(claim.tenant, claim.key), **claim.model_dump()})
            return claim
        except DuplicateKeyError:
            held = await self._claims.find_one({"_id": _id(claim.tenant, claim.key)})
            assert held is not None  # keys are never deleted
            return Claim.model_validate(held)

    async def mark_published(self, tenant: str, key: str) -> None:
        await self._claims.update_one({"_id": _id(tenant, key)}, {"$set": {"published": True}})


def _id(tenant: str, key: str) -> str:
    # The tenant is part of the id: two tenants may well pick the same key.
    return f"{tenant}\n{key}"


@dataclass
class InMemoryIdempotencyStore:
    claims: dict[tuple[str, str], Claim] = field(default_factory=dict)

    async def claim(self, claim: Claim) -> Claim:
        return self.claims.setdefault((claim.tenant, claim.key), claim)

    async def mark_published(self, tenant: str, key: str) -> None:
        held = self.claims[tenant, key]
        self.claims[tenant, key] = held.model_copy(update={"published": True})
