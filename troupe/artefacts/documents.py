"""How an artefact's description is kept in a document, shared by the database adapters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas import ArtefactRef
from troupe.artefacts.store import StoredArtefact

__all__ = ["description_fields", "stored_from", "utc"]


def description_fields(ref: ArtefactRef, tenant: str, task_id: str, key: str) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "task_id": task_id,
        "key": key,
        "media_type": ref.media_type,
        "sha256": ref.sha256,
        "preview": ref.preview,
        "size": ref.size,
    }


def stored_from(artefact_id: str, fields: dict[str, Any], stored_at: datetime | None) -> StoredArtefact:
    ref = ArtefactRef(
        id=artefact_id,
        size=fields["size"],
        media_type=fields["media_type"],
        sha256=fields["sha256"],
        preview=fields["preview"],
    )
    return StoredArtefact(ref, fields["tenant"], fields["task_id"], fields.get("key", ""), utc(stored_at))


def utc(time: Any) -> datetime | None:
    """A stored time as an aware datetime; a client without tz_aware reads UTC times as naive ones."""
    if not isinstance(time, datetime):
        return None
    return time if time.tzinfo is not None else time.replace(tzinfo=UTC)
