"""The artefact store's interface: large outputs kept once, per tenant, and fetched back by id."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Protocol

from schemas import ArtefactRef
from schemas.artefacts import PREVIEW_CHARS

__all__ = ["ArtefactNotFound", "ArtefactStore", "StoredArtefact", "artefact_id", "describe"]

_ID_NAMESPACE = uuid.UUID("0b7e4f1a-3c52-4f0e-8d1d-6a0f2b9c7e35")


class ArtefactNotFound(LookupError):
    """No such artefact for this tenant: another tenant's artefacts are as absent as unknown ones."""

    def __init__(self, artefact_id: str) -> None:
        super().__init__(f"artefact {artefact_id} not found")
        self.artefact_id = artefact_id


@dataclass(frozen=True)
class StoredArtefact:
    ref: ArtefactRef
    tenant: str
    task_id: str


class ArtefactStore(Protocol):
    async def put(self, tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
        """Store `data` once: the id comes from tenant, task, `key` and content, so a repeat returns the same."""
        ...

    async def find(self, tenant: str, artefact_id: str) -> StoredArtefact:
        """The artefact's description, or ArtefactNotFound."""
        ...

    async def get(self, tenant: str, artefact_id: str) -> bytes: ...

    async def read_range(self, tenant: str, artefact_id: str, start: int, length: int) -> bytes:
        """Up to `length` bytes from offset `start` (fewer at the end)."""
        ...

    async def list_for_task(self, tenant: str, task_id: str) -> list[ArtefactRef]: ...

    async def delete_for_task(self, tenant: str, task_id: str) -> int:
        """Remove the task's artefacts; how many there were."""
        ...


def artefact_id(tenant: str, task_id: str, key: str, sha256: str) -> str:
    return uuid.uuid5(_ID_NAMESPACE, "/".join((tenant, task_id, key, sha256))).hex


def describe(tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
    """The reference `data` gets when stored under `key`."""
    digest = hashlib.sha256(data).hexdigest()
    preview = data[: PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:PREVIEW_CHARS]
    return ArtefactRef(
        id=artefact_id(tenant, task_id, key, digest),
        size=len(data),
        media_type=media_type,
        sha256=digest,
        preview=preview,
    )
