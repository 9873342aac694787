"""The pipeline end to end: real Kafka, the real MongoDB-wire server, the services as OS processes, and a
scripted LLM reached through the real `openai` client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo.errors import PyMongoError

from gateway_svc.auth import MongoKeyStore
from schemas import FinalStatus, Topics
from tests.e2e.event_log import EventLog, event_log
from tests.e2e.processes import ServiceProcess, answers, deployment_environment
from tests.e2e.scripted_llm import ScriptedLLM, llm_environment, scripted_llm
from tests.integration.conftest import _servers_are_up  # noqa: F401  (autouse: fail fast without servers)
from tests.stopping import stop_within
from tests.throwaway import throwaway_suffix
from troupe.db import make_client
from troupe.settings import Settings

REPO = Path(__file__).resolve().parents[2]
# Low enough for a test to go past it quickly, high enough for the other tests' polling (each uses its own key).
RATE_LIMIT_PER_MINUTE = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def drop_database(deployment: Settings) -> None:
    """For fixtures and context managers that made a deployment of their own. Its own event loop, in a thread
    of its own: it is called from sync fixtures' teardown (no loop) and from async tests (a loop running)."""

    async def drop() -> None:
        client = make_client(deployment)
        try:
            await client.drop_database(deployment.mongodb_database)
        finally:
            await client.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, drop()).result()


WORKERS = ("planner_svc", "executor_svc", "reviewer_svc")
FINAL = {status.value for status in FinalStatus}


GRAFANA_URL = "http://grafana.test:3000"


def trace_store_url() -> str:
    """The local trace store's query API (infra/jaeger.sh)."""
    return f"http://127.0.0.1:{os.environ.get('TROUPE_JAEGER_PORT', '16686')}"


def otlp_endpoint() -> str:
    return os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{os.environ.get('TROUPE_OTLP_PORT', '4318')}"
    )


@dataclass
class Pipeline:
    settings: Settings
    llm: ScriptedLLM
    services: dict[str, ServiceProcess]
    gateway_url: str = ""
    admin_key: str = ""

    @property
    def topics(self) -> Topics:
        return self.settings.topics


@pytest.fixture(scope="session")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with scripted_llm() as llm, running_pipeline(settings, tmp_path_factory, llm) as running:
        yield running


@contextmanager
def running_pipeline(
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
    llm: ScriptedLLM,
    llm_env: dict[str, str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Pipeline]:
    """The four services on topics and a database of their own, asking `llm` (or what `llm_env` says), on the
    servers `settings` names; `extra_env` overrides any of their settings."""
    unique = throwaway_suffix(8)
    logs = tmp_path_factory.mktemp("service-logs")
    # Sandboxed code runs as an unprivileged user, who must be able to enter every folder above its workspace.
    workspaces = Path(tempfile.mkdtemp(prefix="troupe-e2e-"))
    workspaces.chmod(0o755)
    deployment = settings.model_copy(
        update={"topic_prefix": f"e2e{unique}", "mongodb_database": f"e2e_{unique}"}
    )
    env = deployment_environment(
        deployment,
        workspaces,
        {
            **llm_environment(llm),
            **(llm_env or {}),
            # Spans go to the local trace store, in small batches so a test reads them back soon.
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint(),
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "TROUPE_GRAFANA_URL": GRAFANA_URL,
        },
    )
    gateway_port = free_port()
    env.update(
        {
            "TROUPE_GATEWAY_PORT": str(gateway_port),
            "TROUPE_ADMIN_API_KEY": (admin_key := f"trp_e2e_{uuid.uuid4().hex}"),
            "TROUPE_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT_PER_MINUTE),
            **(extra_env or {}),
        }
    )
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    services = {name: ServiceProcess(name, env, logs) for name in WORKERS}
    # Readiness pings MongoDB and Kafka with 2 s timeouts each; on a busy shared machine it can take that long.
    ready = answers(f"{gateway_url}/readyz", timeout_s=5)
    services["gateway_svc"] = ServiceProcess("gateway_svc", env, logs, ready=ready)
    try:
        for service in services.values():
            service.start()
        yield Pipeline(deployment, llm, services, gateway_url, admin_key)
    finally:
        for service in services.values():
            service.stop()
        shutil.rmtree(workspaces, ignore_errors=True)
        # A store still away at the end (an outage test that failed) only leaves the database behind, and must
        # not hide why the test failed.
        with contextlib.suppress(PyMongoError):
            drop_database(deployment)


@pytest.fixture
async def events(pipeline: Pipeline) -> AsyncIterator[EventLog]:
    async with event_log(pipeline.settings.kafka_bootstrap_servers, pipeline.topics) as log:
        yield log


@pytest.fixture
async def producer(pipeline: Pipeline) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await stop_within(producer)


@pytest.fixture
async def api(pipeline: Pipeline) -> AsyncIterator[ApiClient]:
    """An HTTP client with a fresh key of its own, for tenant `acme`."""
    client = make_client(pipeline.settings)
    try:
        _, token = await MongoKeyStore(client[pipeline.settings.mongodb_database]).create("acme")
    finally:
        await client.close()
    async with httpx.AsyncClient(
        base_url=pipeline.gateway_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        yield ApiClient(http)


@dataclass
class ApiClient:
    http: httpx.AsyncClient

    async def wait_until_final(self, task_id: str, timeout_s: float = 90) -> dict[str, Any]:
        return await self.wait_until(task_id, lambda task: task["status"] in FINAL, timeout_s)

    async def wait_until(
        self, task_id: str, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 90
    ) -> dict[str, Any]:
        """Poll GET /tasks/{id} (gently: the key is rate limited) until the task meets the condition."""
        async with asyncio.timeout(timeout_s):
            while True:
                answer = await self.http.get(f"/tasks/{task_id}")
                if answer.status_code == 200 and condition(task := answer.json()):
                    return task  # type: ignore[no-any-return]
                await asyncio.sleep(0.5)
