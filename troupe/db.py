"""MongoDB through PyMongo's async client (Motor is deprecated); works against MongoDB-wire servers."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from troupe.mongo_spans import CommandSpans
from troupe.settings import Settings

__all__ = ["Document", "make_client", "make_database"]

Document = dict[str, Any]


def make_client(settings: Settings, selection_timeout_ms: int | None = None) -> AsyncMongoClient[Document]:
    """A client that fails fast instead of hanging when the server is away; it connects lazily.
    `selection_timeout_ms` (default `mongodb_timeout_ms`) is how long a command waits for an unreachable
    server before it fails. Every command it sends is a span (troupe.mongo_spans)."""
    return AsyncMongoClient(
        settings.mongodb_uri,
        serverSelectionTimeoutMS=selection_timeout_ms or settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        tz_aware=True,
        appname=settings.service_name,
        event_listeners=[CommandSpans()],
    )


def make_database(client: AsyncMongoClient[Document], settings: Settings) -> AsyncDatabase[Document]:
    return client[settings.mongodb_database]
