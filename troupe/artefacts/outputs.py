"""Step outputs as artefact bytes and back, and the excerpts of a task's results that reviews are given."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import JsonValue
from pydantic_core import to_json

from schemas import StepResult
from troupe.artefacts.store import ArtefactNotFound, ArtefactStore
from troupe.excerpts import excerpt

__all__ = ["JSON", "TEXT", "decode_output", "encode_output", "excerpted_results"]

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


def encode_output(output: JsonValue) -> tuple[bytes, str]:
    """A text output is kept as its text, anything else as JSON, so that it reads back as it was."""
    if isinstance(output, str):
        return output.encode("utf-8"), TEXT
    return to_json(output), JSON


def decode_output(data: bytes, media_type: str) -> JsonValue:
    text = data.decode("utf-8", errors="replace")
    value: JsonValue = json.loads(text) if media_type == JSON else text
    return value


async def excerpted_results(
    store: ArtefactStore, tenant: str, results: Sequence[StepResult], max_chars: int
) -> list[StepResult]:
    """`results` with each output (read back from its artefact where it has one) cut to an excerpt.

    The artefact reference stays, so whoever reads the excerpt knows the whole is kept elsewhere; an
    artefact that is gone leaves the output null.
    """
    shown = []
    for result in results:
        output = result.output
        if result.artefact is not None:
            try:
                data = await store.get(tenant, result.artefact.id)
            except ArtefactNotFound:
                output = None
            else:
                output = decode_output(data, result.artefact.media_type)
        shown.append(result.model_copy(update={"output": excerpt(result.tool, output, max_chars)}))
    return shown
