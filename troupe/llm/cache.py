"""Answers kept for a while, so an identical request from the same tenant (role, chain, prompt, schema) costs
nothing the second time. Entries are scoped to the tenant: one tenant's answers are never served to another.

Expiry is an `expires_at` field checked on every read, so the cache is correct on stores without TTL indexes
(FerretDB, some managed services); where the server has them, a TTL index also deletes expired documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from troupe.llm.config import ChainLink

__all__ = ["CacheStore", "CachedAnswer", "InMemoryCache", "MongoCache", "cache_key"]

Clock = Callable[[], datetime]
# MongoDB's code for a command or option the server does not implement.
_NOT_IMPLEMENTED = 238


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CachedAnswer(BaseModel):
    """What a provider answered, and what it cost when it was first asked."""

    model_config = ConfigDict(frozen=True)

    text: str
    provider: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


def cache_key(
    tenant: str,
    role: str,
    chain: Sequence[ChainLink],
    messages: Sequence[tuple[str, str]],
    schema: dict[str, Any] | None,
) -> str:
    """A digest of the tenant and everything that decides the answer; any change in them misses."""
    material = {
        "tenant": tenant,
        "role": role,
        "chain": [str(link) for link in chain],
        "messages": [list(m) for m in messages],
        "schema": schema,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class CacheStore(Protocol):
    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None: ...


class InMemoryCache:
    """The fake: a dict with the same expiry rule, for unit tests and runs without a database."""

    def __init__(self, clock: Clock = _utc_now) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[CachedAnswer, datetime]] = {}

    async def get(self, key: str) -> CachedAnswer | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._clock():
            self._entries.pop(key, None)
            return None
        return entry[0]

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        self._entries[key] = (answer, self._clock() + timedelta(seconds=ttl_s))


class MongoCache:
    """Cache documents `{_id: key, answer..., expires_at}` in one collection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], clock: Clock = _utc_now) -> None:
        self._collection = collection
        self._clock = clock
        self.ttl_index = False

    async def ensure_indexes(self) -> bool:
        """Create the TTL index where the server has them; says whether it did. Safe to call repeatedly."""
        try:
            await self._collection.create_index("expires_at", expireAfterSeconds=0)
        except OperationFailure as exc:
            if exc.code != _NOT_IMPLEMENTED and "not implemented" not in str(exc).lower():
                raise
            self.ttl_index = False
        else:
            self.ttl_index = True
        return self.ttl_index

    async def get(self, key: str) -> CachedAnswer | None:
        doc = await self._collection.find_one({"_id": key})
        if doc is None:
            return None
        if _aware(doc["expires_at"]) <= self._clock():
            await self._collection.delete_one({"_id": key, "expires_at": doc["expires_at"]})
            return None
        return CachedAnswer.model_validate(doc["answer"])

    async def put(self, key: str, answer: CachedAnswer, ttl_s: float) -> None:
        doc = {"answer": answer.model_dump(), "expires_at": self._clock() + timedelta(seconds=ttl_s)}
        await self._collection.replace_one({"_id": key}, doc, upsert=True)


def _aware(moment: datetime) -> datetime:
    # A client built without tz_aware=True hands back naive datetimes that are UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
