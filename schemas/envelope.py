"""The envelope every Troupe event carries, whatever its type."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Envelope", "EventModel", "deterministic_event_id", "utc_now"]

# Task ids and tenants end up in Kafka keys, Mongo _ids and URLs: keep them boring.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_EVENT_ID_NAMESPACE = uuid.UUID("6f1d2c1e-9a43-4f7b-9a57-2f4ad1f7e0a1")


def utc_now() -> datetime:
    return datetime.now(UTC)


def deterministic_event_id(task_id: str, *parts: object) -> str:
    """An event id derived from what the event is, so a redelivered input republishes the same id."""
    name = "/".join([task_id, *(str(p) for p in parts)])
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))


class EventModel(BaseModel):
    """Base for everything that travels on a topic: strict about unknown fields and frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(EventModel):
    """Fields common to every task event.

    `schema_version` is per event type. A consumer refuses a version newer than it knows instead of
    guessing at fields it cannot see; older versions stay readable.
    """

    LATEST_SCHEMA_VERSION: ClassVar[int] = 1

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=128)
    type: str
    schema_version: int = Field(default=1, ge=1)
    task_id: str = Field(pattern=ID_PATTERN)
    tenant: str = Field(default="default", pattern=ID_PATTERN)
    iteration: int = Field(default=0, ge=0, le=1000)
    occurred_at: datetime = Field(default_factory=utc_now)
    causation_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="before")
    @classmethod
    def _refuse_newer_schema(cls, data: Any) -> Any:
        if isinstance(data, dict):
            version = data.get("schema_version", 1)
            if isinstance(version, int) and version > cls.LATEST_SCHEMA_VERSION:
                raise ValueError(
                    f"schema_version {version} of {data.get('type', cls.__name__)!r} is newer than this "
                    f"code understands (latest {cls.LATEST_SCHEMA_VERSION}); upgrade the consumer"
                )
        return data
