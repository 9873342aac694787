"""API keys: random bearer tokens, stored only as SHA-256 hashes, each scoped to one tenant.

A token has 256 random bits, so a plain SHA-256 is enough (no salt or slow hash: nothing to brute-force)
and lets a request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas import utc_now
from troupe.db import Document

__all__ = [
    "ADMIN_KEY_ID",
    "ApiKey",
    "InMemoryKeyStore",
    "KeyStore",
    "MongoKeyStore",
    "Role",
    "hash_token",
    "new_token",
]

ADMIN_KEY_ID = "admin"


class Role(StrEnum):
    """`operator` runs the deployment: sets every tenant's policy and quotas; its keys are made only with
    the CLI and MONGODB_URI (and the settings' admin key is one). The others act within their own tenant:
    `admin` manages its tenant's keys and approves, `approver` approves, `user` submits."""

    OPERATOR = "operator"
    ADMIN = "admin"
    APPROVER = "approver"
    USER = "user"


class ApiKey(BaseModel):
    key_id: str
    tenant: str
    role: Role = Role.USER
    created_at: datetime
    revoked: bool = False


def new_token() -> str:
    return "trp_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore(Protocol):
    async def find(self, token: str) -> ApiKey | None:
        """The key a bearer token belongs to, revoked or not; None if there is none."""
        ...

    async def create(self, tenant: str, role: Role = Role.USER) -> tuple[ApiKey, str]:
        """A new key and its token; the token is shown once and never stored."""
        ...

    async def put(self, key_id: str, token: str, tenant: str, role: Role) -> ApiKey:
        """Create or replace the key with this id."""
        ...

    async def seed(self, key_id: str, token: str, tenant: str, role: Role) -> ApiKey:
        """The key with this id and token as stored, revoked or not, with `role`; created, or replacing one
        with another token, when there is none (the admin key from the settings, at every start)."""
        ...

    async def revoke(self, key_id: str) -> bool: ...

    async def all(self, tenant: str | None = None) -> list[ApiKey]: ...


class MongoKeyStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._keys = database["api_keys"]

    async def ensure_indexes(self) -> None:
        await self._keys.create_index([("hash", ASCENDING)], unique=True)

    async def find(self, token: str) -> ApiKey | None:
        doc = await self._keys.find_one({"hash": hash_token(token)})
        return _key(doc) if doc else None

    async def create(self, tenant: str, role: Role = Role.USER) -> tuple[ApiKey, str]:
        token = new_token()
        key = await self.put("k_" + secrets.token_hex(6), token, tenant, role)
        return key, token

    async def put(self, key_id: str, token: str, tenant: str, role: Role) -> ApiKey:
        key = ApiKey(key_id=key_id, tenant=tenant, role=role, created_at=utc_now())
        doc = key.model_dump(exclude={"key_id"}, mode="python") | {"hash": hash_token(token)}
        try:
            await self._keys.replace_one({"_id": key_id}, doc, upsert=True)
        except DuplicateKeyError:  # another replica upserted the same key at the same moment
            await self._keys.replace_one({"_id": key_id}, doc)
        return key

    async def seed(self, key_id: str, token: str, tenant: str, role: Role) -> ApiKey:
        doc = await self._keys.find_one({"_id": key_id, "hash": hash_token(token)})
        if doc is None:
            return await self.put(key_id, token, tenant, role)
        if doc.get("role") != role.value:  # a key seeded before its role changed (admin, now operator)
            await self._keys.update_one({"_id": key_id}, {"$set": {"role": role.value}})
            doc["role"] = role.value
        return _key(doc)

    async def revoke(self, key_id: str) -> bool:
        result = await self._keys.update_one({"_id": key_id}, {"$set": {"revoked": True}})
        return result.matched_count == 1

    async def all(self, tenant: str | None = None) -> list[ApiKey]:
        query: Document = {} if tenant is None else {"tenant": tenant}
        return [_key(d) async for d in self._keys.find(query).sort("created_at", ASCENDING)]


def _key(doc: Document) -> ApiKey:
    return ApiKey.model_validate({**doc, "key_id": doc["_id"]})


@dataclass
class InMemoryKeyStore:
    """The fake: keys by id, with their token hashes."""

    keys: dict[str, tuple[ApiKey, str]] = field(default_factory=dict)

    async def find(self, token: str) -> ApiKey | None:
        wanted = hash_token(token)
        return next((key for key, digest in self.keys.values() if digest == wanted), None)

    async def create(self, tenant: str, role: Role = Role.USER) -> tuple[ApiKey, str]:
        token = new_token()
        return await self.put(f"k_{len(self.keys)}", token, tenant, role), token

    async def put(self, key_id: str, token: str, tenant: str, role: Role) -> ApiKey:
        key = ApiKey(key_id=key_id, tenant=tenant, role=role, created_at=utc_now())
        self.keys[key_id] = (key, hash_token(token))
        return key

    async def seed(self, key_id: str, token: str, tenant: str, role: Role) -> ApiKey:
        stored = self.keys.get(key_id)
        if stored is None or stored[1] != hash_token(token):
            return await self.put(key_id, token, tenant, role)
        key = stored[0].model_copy(update={"role": role})
        self.keys[key_id] = (key, stored[1])
        return key

    async def revoke(self, key_id: str) -> bool:
        if key_id not in self.keys:
            return False
        key, digest = self.keys[key_id]
        self.keys[key_id] = (key.model_copy(update={"revoked": True}), digest)
        return True

    async def all(self, tenant: str | None = None) -> list[ApiKey]:
        return [key for key, _ in self.keys.values() if tenant is None or key.tenant == tenant]
