"""The in-memory artefact store keeps the interface's promises, and outputs read back as they were."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from schemas import StepResult, StepStatus
from troupe.artefacts import (
    JSON,
    TEXT,
    ArtefactNotFound,
    InMemoryArtefacts,
    decode_output,
    encode_output,
    excerpted_results,
)
from troupe.excerpts import NOTE_KEY


@pytest.mark.parametrize("output", ["text with ünïcode", {"a": [1, 2.5, None, True]}, [1, "x"], 7])
def test_an_output_reads_back_as_it_was(output: JsonValue) -> None:
    data, media_type = encode_output(output)
    assert media_type == (TEXT if isinstance(output, str) else JSON)
    assert decode_output(data, media_type) == output


async def test_the_store_scopes_artefacts_to_their_tenant() -> None:
    store = InMemoryArtefacts()
    ref = await store.put("acme", "t-1", "1/s1", b"data", TEXT)
    assert await store.get("acme", ref.id) == b"data"
    with pytest.raises(ArtefactNotFound):
        await store.get("globex", ref.id)
    assert await store.list_for_task("globex", "t-1") == []


async def test_the_same_content_under_the_same_key_gets_the_same_id_and_other_content_another() -> None:
    store = InMemoryArtefacts()
    first = await store.put("acme", "t-1", "1/s1", b"data", TEXT)
    assert await store.put("acme", "t-1", "1/s1", b"data", TEXT) == first
    assert (await store.put("acme", "t-1", "1/s1", b"other", TEXT)).id != first.id
    assert (await store.put("globex", "t-1", "1/s1", b"data", TEXT)).id != first.id
    assert len(first.id) == 32 and first.size == 4 and first.preview == "data"


async def test_a_range_read_and_deleting_a_task() -> None:
    store = InMemoryArtefacts()
    ref = await store.put("acme", "t-1", "1/s1", b"0123456789", TEXT)
    await store.put("acme", "t-2", "1/s1", b"kept", TEXT)
    assert await store.read_range("acme", ref.id, 3, 4) == b"3456"
    assert await store.delete_for_task("acme", "t-1") == 1
    assert [s.ref.preview for s in await store.list_for_task("acme", "t-2")] == ["kept"]


async def test_results_are_excerpted_from_their_artefacts_and_keep_the_reference() -> None:
    store = InMemoryArtefacts()
    big: JsonValue = {"stdout": "x" * 100_000, "stderr": "", "exit_code": 0}
    data, media_type = encode_output(big)
    ref = await store.put("acme", "t-1", "1/s1", data, media_type)
    results = [
        StepResult(step_id="s1", tool="python_exec", status=StepStatus.SUCCEEDED, artefact=ref),
        StepResult(step_id="s2", tool="math", status=StepStatus.SUCCEEDED, output={"value": 2}),
    ]
    first, second = await excerpted_results(store, "acme", results, 2_000)
    assert first.artefact == ref and isinstance(first.output, dict)
    assert first.output["exit_code"] == 0 and NOTE_KEY in first.output
    assert second.output == {"value": 2}
    [gone] = await excerpted_results(store, "globex", results[:1], 2_000)
    assert gone.output is None  # another tenant's artefact is as absent as a deleted one
