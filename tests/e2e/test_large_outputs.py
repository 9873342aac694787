"""A call-graph task over a real tree whose analysis is several megabytes: kept as an artefact, approved offline on
the verifier's check of the whole graph (which the verdict cites), and downloadable byte-identical by its tenant
only."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from gateway_svc.auth import MongoKeyStore
from tests.e2e.conftest import REPO, Pipeline, running_pipeline
from tests.e2e.scripted_llm import scripted_llm
from troupe.db import make_client
from troupe.settings import Settings

# Troupe's own packages and tests: about 400 files, an analysis of several MB.
PACKAGES = (
    "troupe",
    "schemas",
    "executor_svc",
    "planner_svc",
    "reviewer_svc",
    "gateway_svc",
    "toolbox",
    "bench",
    "eval",
    "tests",
)
OFFLINE = {
    "TROUPE_LLM_PLANNER_CHAIN": "offline",
    "TROUPE_LLM_REVIEWER_CHAIN": "offline",
    "TROUPE_LLM_AI_TOOL_CHAIN": "offline",
    "TROUPE_LLM_OFFLINE_FALLBACK": "true",
}


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("large-tree")
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    # Sandboxed tools run as an unprivileged user.
    for folder, _, files in os.walk(root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    root.parent.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def offline_pipeline(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, tree: Path
) -> Iterator[Pipeline]:
    extra = {"TROUPE_EXECUTOR_READ_ONLY_ROOTS": json.dumps([str(tree)])}
    with scripted_llm() as llm, running_pipeline(settings, tmp_path_factory, llm, OFFLINE, extra) as running:
        yield running


async def client_for(pipeline: Pipeline, tenant: str) -> httpx.AsyncClient:
    client = make_client(pipeline.settings)
    try:
        _, token = await MongoKeyStore(client[pipeline.settings.mongodb_database]).create(tenant)
    finally:
        await client.close()
    return httpx.AsyncClient(base_url=pipeline.gateway_url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def acme(offline_pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(offline_pipeline, "acme") as http:
        yield http


async def test_a_several_megabyte_analysis_is_kept_whole_approved_offline_and_downloadable(
    acme: httpx.AsyncClient, offline_pipeline: Pipeline, tree: Path
) -> None:
    description = f"Find the call sequence from main() to ensure_topics() in {tree}"
    answer = await acme.post("/tasks", json={"description": description})
    assert answer.status_code == 202, answer.text
    task_id = answer.json()["task_id"]
    for _ in range(240):
        task = (await acme.get(f"/tasks/{task_id}")).json()
        if task.get("status") in {
            "succeeded",
            "failed",
            "rejected",
            "timed_out",
            "cancelled",
            "budget_exhausted",
        }:
            break
        await asyncio.sleep(0.5)
    assert task["status"] == "succeeded", task.get("error")
    result = task["result"]
    ref = result["artefact"]
    print(f"analysis artefact: {ref['size']} bytes")
    assert ref["size"] > 2_000_000 and ref["media_type"] == "application/json"
    # The approval rests on the verifier's check of the whole graph, and says so.
    review = task["review"]
    checked = {f["id"]: f for f in review["findings"]}
    assert checked and all(f["status"] == "ok" for f in checked.values())
    assert set(review["citations"]) <= set(checked) and review["citations"]
    assert any(ref["id"] in json.dumps(f["evidence"]) for f in checked.values())
    assert result["excerpt"]["targets"] == ["troupe.kafka.ensure_topics"]
    assert result["excerpt"]["paths"] and all(
        p[-1] == "troupe.kafka.ensure_topics" for p in result["excerpt"]["paths"]
    )

    [listed] = (await acme.get(f"/tasks/{task_id}/artifacts")).json()["items"]
    assert {k: listed[k] for k in ref} == ref and listed["step"].startswith("1/")
    body = (await acme.get(f"/tasks/{task_id}/artifacts/{ref['id']}")).content
    assert len(body) == ref["size"] and hashlib.sha256(body).hexdigest() == ref["sha256"]
    whole = json.loads(body)
    assert whole["paths"] == result["excerpt"]["paths"] and len(whole["graph"]["edges"]) > 1_000

    async with await client_for(offline_pipeline, "globex") as globex:
        assert (await globex.get(f"/tasks/{task_id}/artifacts/{ref['id']}")).status_code == 404
