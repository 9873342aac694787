"""No credential ever lands in a log, a document or an event: tasks run through the whole pipeline with real
keys in use (gateway keys from the CLI and the settings, provider keys sent to scripted LLM servers), then
every service log, every document of the deployment's database, every record of its topics (dead letters
included) and every span of its tasks' traces are searched for each key, plain or encoded."""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from bson import json_util

from tests.e2e.conftest import (
    FINAL,
    WORKERS,
    drop_database,
    free_port,
    otlp_endpoint,
    trace_store_url,
)
from tests.e2e.processes import ServiceProcess, answers, deployment_environment
from tests.e2e.scripted_llm import PLANNER_MODEL, REVIEWER_MODEL, ScriptedLLM, llm_environment, scripted_llm
from tests.e2e.secret_scan import Finding, find_secrets
from tests.e2e.test_pipeline_over_kafka import DEMO
from tests.throwaway import throwaway_suffix
from troupe.consumer_lag import topic_partitions
from troupe.db import make_client
from troupe.settings import Settings

TROUPE_CLI = str(Path(sys.executable).parent / "troupe")


@dataclass
class Deployment:
    settings: Settings
    llm: ScriptedLLM
    services: dict[str, ServiceProcess]
    gateway_url: str
    secrets: dict[str, str]  # name -> the credential; the scan looks for each
    env: dict[str, str] = field(default_factory=dict)


def provider_keys() -> dict[str, str]:
    """Fresh keys shaped like the real ones (random, so no real key is ever written down)."""
    return {
        "OPENAI_API_KEY": "sk-proj-" + secrets.token_urlsafe(48),
        "GEMINI_API_KEY": "AIza" + secrets.token_urlsafe(27)[:35],
        "MISTRAL_API_KEY": secrets.token_hex(16),
    }


@pytest.fixture(scope="module")
def deployment(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The four services with every kind of key set: unlike the shared pipeline, provider keys are kept."""
    unique = throwaway_suffix(8)
    logs = tmp_path_factory.mktemp("secret-scan-logs")
    workspaces = Path(tempfile.mkdtemp(prefix="troupe-secrets-"))
    workspaces.chmod(0o755)
    own = settings.model_copy(update={"topic_prefix": f"sec{unique}", "mongodb_database": f"sec_{unique}"})
    keys = provider_keys() | {"TROUPE_ADMIN_API_KEY": "trp_" + secrets.token_urlsafe(32)}
    gateway_port = free_port()
    with scripted_llm() as llm:
        env = deployment_environment(
            own,
            workspaces,
            {
                **llm_environment(llm),
                **keys,
                # Every provider is reached with its own key: Gemini refuses it (as Google does a bad key),
                # so the planner falls through to OpenAI; the reviewer speaks to "Mistral".
                "TROUPE_LLM_GEMINI_BASE_URL": llm.root_url,
                "TROUPE_LLM_MISTRAL_BASE_URL": llm.base_url,
                "TROUPE_LLM_PLANNER_CHAIN": f"gemini:gemini-2.5-pro,openai:{PLANNER_MODEL}",
                "TROUPE_LLM_REVIEWER_CHAIN": f"mistral:{REVIEWER_MODEL}",
                "TROUPE_GATEWAY_PORT": str(gateway_port),
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint(),
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                # Debug lines are where a library would print a request's headers.
                "TROUPE_LOG_LEVEL": "DEBUG",
            },
        )
        url = f"http://127.0.0.1:{gateway_port}"
        services = {name: ServiceProcess(name, env, logs) for name in WORKERS}
        services["gateway_svc"] = ServiceProcess("gateway_svc", env, logs, ready=answers(f"{url}/readyz"))
        try:
            for service in services.values():
                service.start()
            yield Deployment(own, llm, services, url, dict(keys), env)
        finally:
            for service in services.values():
                service.stop()
            shutil.rmtree(workspaces, ignore_errors=True)
            drop_database(own)


def cli(deployment: Deployment, *args: str) -> str:
    done = subprocess.run(
        [TROUPE_CLI, *args], env=deployment.env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def create_key(deployment: Deployment, tenant: str) -> tuple[str, str]:
    """A key made the way operators make them, `troupe keys create`; returns (key id, token)."""
    shown = cli(deployment, "keys", "create", "--tenant", tenant)
    key_id = re.search(r"key id\s+(\S+)", shown)
    token = re.search(r"token\s+(trp_\S+)", shown)
    assert key_id and token, shown
    return key_id.group(1), token.group(1)


@pytest.fixture(scope="module")
async def findings(deployment: Deployment) -> AsyncIterator[tuple[list[Finding], dict[str, int]]]:
    """Run the tasks, then scan everything the deployment wrote; yields what was found and how much was read."""
    key_id, user_key = create_key(deployment, "acme")
    wrong_key = "trp_" + secrets.token_urlsafe(32)  # a mistyped or stolen key is still a secret
    deployment.secrets |= {"cli user key": user_key, "wrong key": wrong_key}
    trace_ids = await run_tasks(deployment, user_key, wrong_key)
    cli(deployment, "keys", "revoke", key_id)
    async with httpx.AsyncClient(base_url=deployment.gateway_url) as http:
        revoked = await http.get("/tasks", headers={"Authorization": f"Bearer {user_key}"})
        assert revoked.status_code == 401, revoked.text
    await dead_letter_something(deployment)

    scanned: dict[str, int] = {}
    found = scan_logs(deployment, scanned)
    found += await scan_database(deployment, scanned)
    found += await scan_topics(deployment, scanned)
    found += await scan_traces(deployment, trace_ids, scanned)
    yield found, scanned


# A key-looking string a user typed into a task: data, which is kept, not a credential. The scan looks for it
# like for the keys, to show that it finds what is there.
USER_DATA = "sk-userdata-" + secrets.token_urlsafe(24)
DECOY = "the user's own text"


def needles(deployment: Deployment) -> dict[str, str]:
    return deployment.secrets | {DECOY: USER_DATA}


ENVIRONMENT_DUMP = (
    "import os, json\n"
    "print(json.dumps(dict(os.environ)))\n"
    "for path in ('/proc/1/environ', '/proc/self/environ'):\n"
    "    try:\n"
    "        print(path, open(path, 'rb').read())\n"
    "    except OSError as e:\n"
    "        print(path, 'refused', e)\n"
)


async def run_tasks(deployment: Deployment, user_key: str, wrong_key: str) -> list[str]:
    """The demo task with the CLI's key; a task that dumps its environment with the admin key; refusals."""
    admin_key = deployment.secrets["TROUPE_ADMIN_API_KEY"]
    async with httpx.AsyncClient(base_url=deployment.gateway_url, timeout=30) as http:
        user = {"Authorization": f"Bearer {user_key}"}
        admin = {"Authorization": f"Bearer {admin_key}"}
        demo = await http.post("/tasks", headers=user, json={"description": DEMO})
        dump = await http.post(
            "/tasks",
            headers=admin | {"Idempotency-Key": "secret-scan"},
            json={
                "description": f"print the environment; by the way my token is {USER_DATA}",
                "constraints": {"max_iterations": 1},
                "plan": {"steps": [{"id": "env", "tool": "python_exec", "args": {"code": ENVIRONMENT_DUMP}}]},
            },
        )
        assert demo.status_code == dump.status_code == 202, (demo.text, dump.text)
        refused = await http.get("/tasks", headers={"Authorization": f"Bearer {wrong_key}"})
        assert refused.status_code == 401
        tasks = [
            await until_final(http, user, demo.json()["task_id"]),
            await until_final(http, admin, dump.json()["task_id"]),
        ]
        for headers, task in zip((user, admin), tasks, strict=True):
            assert (await http.get(f"/tasks/{task['task_id']}/logs", headers=headers)).status_code == 200
            stream = await http.get(f"/tasks/{task['task_id']}/events", headers=headers)
            assert stream.status_code == 200 and "event: snapshot" in stream.text
    assert tasks[0]["status"] == "succeeded", tasks[0].get("error")
    # The environment dump really ran, in the sandbox, and its output is in the events and documents.
    assert [(s["step_id"], s["status"]) for s in tasks[1]["steps"]] == [("env", "succeeded")], tasks[1]
    # The keys were really used: each provider got its own, in its own header.
    sent = set(deployment.llm.credentials)
    expected = {
        f"Bearer {deployment.secrets['OPENAI_API_KEY']}",
        f"Bearer {deployment.secrets['MISTRAL_API_KEY']}",
        deployment.secrets["GEMINI_API_KEY"],
    }
    assert expected <= sent, "a provider key was never sent to the scripted servers"
    return [task["trace_id"] for task in tasks if task.get("trace_id")]


async def until_final(http: httpx.AsyncClient, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    async with asyncio.timeout(120):
        while True:
            answer = await http.get(f"/tasks/{task_id}", headers=headers)
            if answer.status_code == 200 and (task := answer.json())["status"] in FINAL:
                return task  # type: ignore[no-any-return]
            await asyncio.sleep(0.5)


async def dead_letter_something(deployment: Deployment) -> None:
    """A payload the planner refuses, so the dead-letter topic has a record to scan; returns once it is there."""
    bootstrap, topics = deployment.settings.kafka_bootstrap_servers, deployment.settings.topics
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topics.task_submitted, b"not json", key=b"dlt-1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topics.dead_letter, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            await consumer.getone()
    finally:
        await consumer.stop()


def scan_logs(deployment: Deployment, scanned: dict[str, int]) -> list[Finding]:
    found = []
    for service in deployment.services.values():
        text = service.log_path.read_bytes()
        scanned["log bytes"] = scanned.get("log bytes", 0) + len(text)
        found += find_secrets(text, needles(deployment), service.log_path.name)
    return found


async def scan_database(deployment: Deployment, scanned: dict[str, int]) -> list[Finding]:
    client = make_client(deployment.settings)
    found = []
    try:
        database = client[deployment.settings.mongodb_database]
        for name in await database.list_collection_names():
            async for document in database[name].find():
                scanned["documents"] = scanned.get("documents", 0) + 1
                blob = json_util.dumps(document).encode()
                found += find_secrets(blob, needles(deployment), f"{name}/{document.get('_id')}")
    finally:
        await client.close()
    return found


async def scan_topics(deployment: Deployment, scanned: dict[str, int]) -> list[Finding]:
    """Every record of every topic under the deployment's prefix, from the start to the current end."""
    bootstrap, prefix = deployment.settings.kafka_bootstrap_servers, deployment.settings.topic_prefix + "."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        partitions = [tp for tps in (await topic_partitions(admin, topics)).values() for tp in tps]
    finally:
        await admin.close()
    assert deployment.settings.topics.dead_letter in topics
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {p for p in partitions if ends[p] > 0}
        async with asyncio.timeout(60):
            while remaining:
                for tp, records in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
                    for record in records:
                        topic = record.topic.removeprefix(prefix)
                        scanned[topic] = scanned.get(topic, 0) + 1
                        headers = b"".join(name.encode() + b"=" + value for name, value in record.headers)
                        blob = (record.key or b"") + b"\n" + (record.value or b"") + b"\n" + headers
                        found += find_secrets(blob, needles(deployment), f"{record.topic}@{record.offset}")
                    if records and records[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
    finally:
        await consumer.stop()
    return found


async def scan_traces(deployment: Deployment, trace_ids: list[str], scanned: dict[str, int]) -> list[Finding]:
    """The tasks' spans in the local trace store, once every service's batch has arrived."""
    found = []
    async with httpx.AsyncClient(timeout=10) as http:
        for trace_id in trace_ids:
            async with asyncio.timeout(45):
                while True:
                    reply = await http.get(f"{trace_store_url()}/api/v3/traces/{trace_id}")
                    if reply.status_code == 200 and all(s in reply.text for s in ('"planner"', '"reviewer"')):
                        break
                    await asyncio.sleep(1)
            await asyncio.sleep(1)  # the last batches of the slower services
            reply = await http.get(f"{trace_store_url()}/api/v3/traces/{trace_id}")
            scanned["traces"] = scanned.get("traces", 0) + 1
            found += find_secrets(reply.content, needles(deployment), f"trace {trace_id}")
    return found


def test_no_credential_is_in_any_log_document_event_or_trace(
    deployment: Deployment, findings: tuple[list[Finding], dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    found, scanned = findings
    leaks = [f for f in found if f.secret != DECOY]
    with capsys.disabled():
        print(f"\nsecret scan: {sorted(deployment.secrets)}; read {scanned}; found {len(leaks)}")
    assert not leaks, "\n".join(f"{f.secret} ({f.encoding}) in {f.where}" for f in leaks)


def test_the_scan_reached_everything_it_claims_to(findings: tuple[list[Finding], dict[str, int]]) -> None:
    found, scanned = findings
    assert scanned["documents"] > 0 and scanned["log bytes"] > 0 and scanned.get("traces", 0) >= 1
    assert scanned.get("dead-letter", 0) >= 1 and scanned.get("tasks.finished", 0) >= 2
    # The user's own key-looking text is kept, and the same scan finds it in the documents and the events.
    decoys = {f.where.split("/")[0].split("@")[0] for f in found if f.secret == DECOY}
    assert {"tasks", "task_events"} <= decoys, decoys
    assert any(where.endswith(".tasks.submitted") for where in decoys), decoys
