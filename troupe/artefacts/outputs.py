"""Step outputs as artefact bytes and back, and the excerpts of a task's results that reviews are given."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import JsonValue
from pydantic_core import to_json

from schemas import StepResult
from troupe.artefacts.store import ArtefactNotFound, ArtefactStore
from troupe.excerpts import excerpt

__all__ = [
    "JSON",
    "TEXT",
    "decode_output",
    "encode_output",
    "excerpted",
    "excerpted_results",
    "whole_results",
]

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
    """`results` with each output (read back from its artefact where it has one) cut to an excerpt."""
    return excerpted(await whole_results(store, tenant, results), max_chars)


async def whole_results(store: ArtefactStore, tenant: str, results: Sequence[StepResult]) -> list[StepResult]:
    """`results` with each output kept as an artefact read back in whole; an artefact that is gone leaves
    the output null. The artefact reference stays, so whoever reads the output knows where it is kept."""
    whole = []
    for result in results:
        if result.artefact is None:
            whole.append(result)
            continue
        try:
            data = await store.get(tenant, result.artefact.id)
        except ArtefactNotFound:
            output = None
        else:
            output = decode_output(data, result.artefact.media_type)
        whole.append(result.model_copy(update={"output": output}))
    return whole


def excerpted(results: Sequence[StepResult], max_chars: int) -> list[StepResult]:
    """`results` with each output cut to an excerpt of at most about `max_chars` characters."""
    return [r.model_copy(update={"output": excerpt(r.tool, r.output, max_chars)}) for r in results]
