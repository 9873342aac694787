"""GET /tasks/{id}/artifacts[/{aid}]: a task's stored outputs, streamed to its own tenant only."""

from __future__ import annotations

import os

import pytest

from gateway_svc.auth import InMemoryKeyStore, Role
from gateway_svc.byte_range import RangeNotSatisfiable, byte_range
from gateway_svc.components import Components
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from schemas import TaskRequest, TaskSubmitted
from tests.unit.gateway import test_api_with_fakes as with_fakes
from troupe.artefacts import InMemoryArtefacts

parts = with_fakes.parts  # the fixture: the API over in-memory parts
serving = with_fakes.serving
DATA = os.urandom(3 * 1024 * 1024 + 5)
OTHER_TOKEN = "trp_globex_token"


async def stored(parts: Components) -> str:
    """acme's task t-1 with one 3 MB artefact, and globex's task t-9; the artefact's id."""
    assert isinstance(parts.tasks, InMemoryTaskStore) and isinstance(parts.keys, InMemoryKeyStore)
    await parts.keys.put("k_globex", OTHER_TOKEN, "globex", Role.USER)
    for task_id, tenant in (("t-1", "acme"), ("t-9", "globex"), ("t-2", "acme")):
        submitted = TaskSubmitted(task_id=task_id, tenant=tenant, request=TaskRequest(description="x"))
        await Projector(parts.tasks).apply(submitted)
    assert isinstance(parts.artefacts, InMemoryArtefacts)
    return (await parts.artefacts.put("acme", "t-1", "1/s1", DATA, "application/json")).id


async def test_the_tenant_lists_and_downloads_its_artefact_byte_identical(parts: Components) -> None:
    artefact = await stored(parts)
    async with serving(parts) as api:
        [item] = (await api.get("/tasks/t-1/artifacts")).json()["items"]
        assert (item["id"], item["step"], item["size"]) == (artefact, "1/s1", len(DATA))
        whole = await api.get(f"/tasks/t-1/artifacts/{artefact}")
        assert whole.status_code == 200 and whole.content == DATA
        assert whole.headers["content-type"] == "application/json"
        assert whole.headers["etag"] == f'"{item["sha256"]}"'
        assert (await api.get(f"/tasks/t-1/artefacts/{artefact}")).content == DATA  # the British spelling


async def test_a_range_answers_206_with_that_part_and_past_the_end_416(parts: Components) -> None:
    artefact = await stored(parts)
    url = f"/tasks/t-1/artifacts/{artefact}"
    async with serving(parts) as api:
        part = await api.get(url, headers={"Range": "bytes=1048570-1048589"})
        assert part.status_code == 206 and part.content == DATA[1_048_570:1_048_590]
        assert part.headers["content-range"] == f"bytes 1048570-1048589/{len(DATA)}"
        tail = await api.get(url, headers={"Range": "bytes=-5"})
        assert tail.content == DATA[-5:]
        past = await api.get(url, headers={"Range": f"bytes={len(DATA)}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(DATA)}"


async def test_another_tenant_gets_404_even_with_both_ids(parts: Components) -> None:
    artefact = await stored(parts)
    async with serving(parts) as api:
        assert (await api.get(f"/tasks/t-1/artifacts/{artefact}")).status_code == 200  # the owner's
        other = {"Authorization": f"Bearer {OTHER_TOKEN}"}
        assert (await api.get(f"/tasks/t-1/artifacts/{artefact}", headers=other)).status_code == 404
        assert (await api.get("/tasks/t-1/artifacts", headers=other)).status_code == 404
        # Through a task of its own, the artefact is still not there.
        assert (await api.get(f"/tasks/t-9/artifacts/{artefact}", headers=other)).status_code == 404
        # Nor through another of the owner's tasks.
        assert (await api.get(f"/tasks/t-2/artifacts/{artefact}")).status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 10)),
        ("bytes=5-", (5, 95)),
        ("bytes=-10", (90, 10)),
        ("bytes=-1000", (0, 100)),
        ("bytes=90-1000", (90, 10)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole body, as RFC 9110 allows
        ("items=0-1", None),
    ],
)
def test_byte_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-2", "bytes=-0"])
def test_unsatisfiable_byte_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 100)
