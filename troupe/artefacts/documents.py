"""How an artefact's description is kept in a document, shared by the database adapters."""

from __future__ import annotations

from typing import Any

from schemas import ArtefactRef
from troupe.artefacts.store import StoredArtefact

__all__ = ["description_fields", "stored_from"]


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


def stored_from(artefact_id: str, fields: dict[str, Any]) -> StoredArtefact:
    ref = ArtefactRef(
        id=artefact_id,
        size=fields["size"],
        media_type=fields["media_type"],
        sha256=fields["sha256"],
        preview=fields["preview"],
    )
    return StoredArtefact(ref, fields["tenant"], fields["task_id"])
