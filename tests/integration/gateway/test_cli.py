"""The `troupe` commands against a real gateway (served from a thread, as the CLI is synchronous)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from pymongo.asynchronous.database import AsyncDatabase
from typer.testing import CliRunner

from gateway_svc.app import create_app
from gateway_svc.projection_store import MongoTaskStore
from gateway_svc.settings import GatewaySettings
from gateway_svc.task_state import TaskState, TaskStatus
from schemas import ArtefactRef, utc_now
from tests.unit.gateway.events import happy_path
from troupe.artefacts import JSON, SelectedArtefacts
from troupe.cli import app
from troupe.db import Document, make_client, make_database
from troupe.kafka import make_broker

from .conftest import ADMIN_TOKEN, topic_records


@pytest.fixture
def gateway_url(gateway_settings: GatewaySettings, database: AsyncDatabase[Document]) -> Iterator[str]:
    del database  # only for its clean-up
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(gateway_settings), log_level="warning", ws="none", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.05)
        assert server.started, "the gateway did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture
def runner(gateway_settings: GatewaySettings, gateway_url: str) -> CliRunner:
    return CliRunner(
        env={
            "TROUPE_GATEWAY_URL": gateway_url,
            "TROUPE_API_KEY": ADMIN_TOKEN,
            "TROUPE_TOPIC_PREFIX": gateway_settings.topic_prefix,
            "TROUPE_MONGODB_DATABASE": gateway_settings.mongodb_database,
            "COLUMNS": "150",
        }
    )


def test_keys_submit_status_logs_and_publish(runner: CliRunner) -> None:
    created = runner.invoke(app, ["keys", "create", "--tenant", "acme"])
    assert created.exit_code == 0, created.output
    token = re.search(r"token\s+(trp_\S+)", created.output)
    key_id = re.search(r"key id\s+(\S+)", created.output)
    assert token and key_id
    assert "acme" in runner.invoke(app, ["keys", "list"]).output

    submitted = runner.invoke(app, ["submit", "evaluate 2**10", "--api-key", token.group(1)])
    assert submitted.exit_code == 0, submitted.output
    task_id = re.search(r"task (\S+) submitted", submitted.output)
    assert task_id
    status = _eventually(runner, ["status", task_id.group(1), "--api-key", token.group(1)])
    assert "submitted" in status and "evaluate 2**10" in status
    assert (
        "task.submitted" in runner.invoke(app, ["logs", task_id.group(1), "--api-key", token.group(1)]).output
    )
    # The admin key is tenant `default`: acme's task is not there for it.
    foreign = runner.invoke(app, ["status", task_id.group(1)])
    assert foreign.exit_code == 2 and "not found" in foreign.output

    published = runner.invoke(app, ["publish", "straight in", "--task-id", "cli-direct"])
    assert published.exit_code == 0, published.output
    assert "straight in" in _eventually(runner, ["status", "cli-direct"])

    assert runner.invoke(app, ["keys", "revoke", key_id.group(1)]).exit_code == 0
    revoked = runner.invoke(app, ["tasks", "--api-key", token.group(1)])
    assert revoked.exit_code == 2 and "revoked" in revoked.output


def test_submit_wait_follows_the_task_to_its_end(
    runner: CliRunner, gateway_settings: GatewaySettings
) -> None:
    def play_the_pipeline() -> None:
        # Waits for the CLI's task id in its output, then publishes that task's events as the services would.
        asyncio.run(_publish_pipeline(gateway_settings, found))

    found: list[str] = []
    result_holder: list[str] = []

    def submit() -> None:
        result = runner.invoke(app, ["submit", "evaluate 2**10", "--wait"])
        result_holder.append(f"{result.exit_code}\n{result.output}")

    cli = threading.Thread(target=submit)
    cli.start()
    player = threading.Thread(target=play_the_pipeline)
    player.start()
    cli.join(60)
    player.join(60)
    code, output = result_holder[0].split("\n", 1)
    assert code == "0", output
    assert "succeeded" in output and "result: 1024" in output


async def _publish_pipeline(settings: GatewaySettings, found: list[str]) -> None:
    async with asyncio.timeout(30):
        while not found:
            found += await _submitted_task_ids(settings)
            await asyncio.sleep(0.1)
    async with make_broker(settings) as broker:
        await broker.start()
        for event in happy_path(found[0], "default")[1:]:
            await broker.publish(
                event.model_dump_json().encode(), settings.topics.for_event(event), key=found[0].encode()
            )
            await asyncio.sleep(0.05)


async def _submitted_task_ids(settings: GatewaySettings) -> list[str]:
    return [r.key.decode() for r in await topic_records(settings, settings.topics.task_submitted)]


def _eventually(runner: CliRunner, args: list[str]) -> str:
    for _ in range(200):
        result = runner.invoke(app, args)
        if result.exit_code == 0:
            return result.output
        threading.Event().wait(0.05)
    raise AssertionError(f"troupe {' '.join(args)} kept failing: {result.output}")


def test_artifacts_lists_and_saves_a_multi_megabyte_artefact_byte_identical(
    runner: CliRunner, gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    large, small = os.urandom(5 * 1024 * 1024 + 7), json.dumps({"paths": [["main", "run"]]}).encode()
    refs = asyncio.run(
        _task_with_artefacts(gateway_settings, "t-art", [(large, "application/octet-stream"), (small, JSON)])
    )

    listed = runner.invoke(app, ["artifacts", "t-art"])
    assert listed.exit_code == 0, listed.output
    for ref, step in zip(refs, ("1/s0", "1/s1"), strict=True):
        row = next(line for line in listed.output.splitlines() if ref.id in line)
        assert step in row and ref.sha256 in row and f"{ref.size:,}" in row and ref.media_type in row

    saved = runner.invoke(app, ["artifacts", "t-art", "--save", str(tmp_path / "out")])
    assert saved.exit_code == 0, saved.output
    assert (tmp_path / "out" / refs[0].id).read_bytes() == large
    assert (tmp_path / "out" / f"{refs[1].id}.json").read_bytes() == small
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([refs[0].id, f"{refs[1].id}.json"])

    unknown = runner.invoke(app, ["artifacts", "t-nobody-knows"])
    assert unknown.exit_code == 2 and "not found" in unknown.output


def test_prune_artifacts_removes_those_of_tasks_ended_past_retention(
    runner: CliRunner, gateway_settings: GatewaySettings
) -> None:
    long_ago = utc_now() - timedelta(days=40)
    [old] = asyncio.run(_task_with_artefacts(gateway_settings, "t-old", [(b"o" * 50_000, JSON)], long_ago))
    [new] = asyncio.run(_task_with_artefacts(gateway_settings, "t-new", [(b"n" * 50_000, JSON)]))

    dry = runner.invoke(app, ["prune-artifacts", "--days", "30", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "default  t-old" in dry.output and "would remove 1 artifact(s) of 1 task(s)" in dry.output
    assert old.id in runner.invoke(app, ["artifacts", "t-old"]).output

    pruned = runner.invoke(app, ["prune-artifacts", "--days", "30"])
    assert pruned.exit_code == 0 and "removed 1 artifact(s) of 1 task(s)" in pruned.output, pruned.output
    assert "has no artifacts" in runner.invoke(app, ["artifacts", "t-old"]).output
    assert new.id in runner.invoke(app, ["artifacts", "t-new"]).output


async def _task_with_artefacts(
    settings: GatewaySettings, task_id: str, outputs: list[tuple[bytes, str]], ended: datetime | None = None
) -> list[ArtefactRef]:
    """An ended task of tenant `default` in the gateway's projection, with these outputs as artefacts."""
    client = make_client(settings)
    try:
        database = make_database(client, settings)
        now = ended or utc_now()
        state = TaskState(task_id=task_id, status=TaskStatus.SUCCEEDED, created_at=now, updated_at=now)
        await MongoTaskStore(database).put(state, [])
        store = SelectedArtefacts(database, settings.artefact_store)
        return [
            await store.put("default", task_id, f"1/s{n}", data, media_type)
            for n, (data, media_type) in enumerate(outputs)
        ]
    finally:
        await client.close()
