"""A reference to an output kept in the artefact store instead of travelling in an event."""

from __future__ import annotations

from pydantic import Field

from schemas.envelope import EventModel

__all__ = ["ARTEFACT_ID_PATTERN", "PREVIEW_CHARS", "ArtefactRef"]

ARTEFACT_ID_PATTERN = r"^[0-9a-f]{32}$"
PREVIEW_CHARS = 500


class ArtefactRef(EventModel):
    """What an event says about a stored output: enough to fetch it, check it and glance at it."""

    id: str = Field(pattern=ARTEFACT_ID_PATTERN)
    size: int = Field(ge=0, description="Bytes stored.")
    media_type: str = Field(min_length=1, max_length=127, description="application/json or text/plain.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the stored bytes, hex.")
    preview: str = Field(default="", max_length=PREVIEW_CHARS, description="The start of the output.")
