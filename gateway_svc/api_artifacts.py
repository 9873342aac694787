"""A task's artefacts: the step outputs too large for events (decision 12), listed and streamed to its tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from gateway_svc.access import Caller
from gateway_svc.api_errors import refusals
from gateway_svc.api_tasks import TaskId, owned_task
from gateway_svc.byte_range import RangeNotSatisfiable, byte_range
from gateway_svc.components import Parts
from schemas import ArtefactRef
from schemas.artefacts import ARTEFACT_ID_PATTERN
from troupe.artefacts import ArtefactNotFound, ArtefactStore, StoredArtefact

__all__ = ["ArtifactItem", "ArtifactList", "router"]

router = APIRouter(tags=["artifacts"], responses=refusals(401, 404, 429, 503))
ArtifactId = Annotated[
    str, Path(pattern=ARTEFACT_ID_PATTERN, description="The `artefact.id` of a step result.")
]
_SLICE_BYTES = 1024 * 1024


class ArtifactItem(ArtefactRef):
    step: str = Field(description='"<iteration>/<step id>" of the step whose output it is.')


class ArtifactList(BaseModel):
    items: list[ArtifactItem]


@router.get("/tasks/{task_id}/artifacts", response_model=ArtifactList)
@router.get("/tasks/{task_id}/artefacts", response_model=ArtifactList, include_in_schema=False)
async def list_artifacts(task_id: TaskId, caller: Caller, parts: Parts) -> ArtifactList:
    """The task's stored outputs: id, step, size, media type, sha256 and a preview of each."""
    await owned_task(parts, task_id, caller.tenant)
    stored = await parts.artefacts.list_for_task(caller.tenant, task_id)
    return ArtifactList(items=[ArtifactItem(**s.ref.model_dump(), step=s.key) for s in stored])


@router.get(
    "/tasks/{task_id}/artifacts/{artifact_id}",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The whole artefact.", "content": {"application/octet-stream": {}}},
        206: {"description": "The part a `Range: bytes=...` header asked for."},
        **refusals(416, why={416: "The range starts past the artefact's end."}),
    },
)
@router.get("/tasks/{task_id}/artefacts/{artifact_id}", include_in_schema=False)
async def get_artifact(
    task_id: TaskId,
    artifact_id: ArtifactId,
    caller: Caller,
    parts: Parts,
    range_: Annotated[str | None, Header(alias="Range")] = None,
) -> StreamingResponse:
    """The artefact's bytes, streamed; `Range: bytes=start-end` (one range) answers 206 with that part."""
    await owned_task(parts, task_id, caller.tenant)
    stored = await _artefact(parts.artefacts, caller.tenant, task_id, artifact_id)
    size = stored.ref.size
    headers = {"Accept-Ranges": "bytes", "ETag": f'"{stored.ref.sha256}"'}
    try:
        part = byte_range(range_, size)
    except RangeNotSatisfiable:
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE,
            f"range {range_!r} is outside the artefact's {size:,} bytes",
            headers={"Content-Range": f"bytes */{size}"},
        ) from None
    start, length = part or (0, size)
    headers["Content-Length"] = str(length)
    if part is not None:
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    return StreamingResponse(
        _slices(parts.artefacts, caller.tenant, artifact_id, start, length),
        status_code=status.HTTP_206_PARTIAL_CONTENT if part else status.HTTP_200_OK,
        media_type=stored.ref.media_type,
        headers=headers,
    )


async def _artefact(store: ArtefactStore, tenant: str, task_id: str, artefact_id: str) -> StoredArtefact:
    try:
        stored = await store.find(tenant, artefact_id)
    except ArtefactNotFound:
        stored = None
    if stored is None or stored.task_id != task_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"artifact {artefact_id} not found for task {task_id}")
    return stored


async def _slices(
    store: ArtefactStore, tenant: str, artefact_id: str, start: int, length: int
) -> AsyncIterator[bytes]:
    end = start + length
    while start < end:
        data = await store.read_range(tenant, artefact_id, start, min(_SLICE_BYTES, end - start))
        if not data:
            return
        yield data
        start += len(data)
