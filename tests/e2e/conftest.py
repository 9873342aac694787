"""The pipeline end to end: real Kafka, the real MongoDB-wire server, the services as OS processes, and a
scripted LLM reached through the real `openai` client."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from schemas import Topics
from tests.e2e.event_log import EventLog, event_log
from tests.e2e.processes import ServiceProcess, base_environment
from tests.e2e.scripted_llm import ScriptedLLM, llm_environment, scripted_llm
from tests.integration.conftest import _servers_are_up  # noqa: F401  (autouse: fail fast without servers)
from troupe.settings import Settings

REPO = Path(__file__).resolve().parents[2]
WORKERS = ("planner_svc", "executor_svc", "reviewer_svc")


@dataclass
class Pipeline:
    settings: Settings
    llm: ScriptedLLM
    services: dict[str, ServiceProcess]

    @property
    def topics(self) -> Topics:
        return self.settings.topics


@pytest.fixture(scope="session")
def pipeline(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    unique = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("service-logs")
    # Sandboxed code runs as an unprivileged user, who must be able to enter every folder above its workspace.
    workspaces = Path(tempfile.mkdtemp(prefix="troupe-e2e-"))
    workspaces.chmod(0o755)
    deployment = settings.model_copy(
        update={"topic_prefix": f"e2e{unique}", "mongodb_database": f"e2e_{unique}"}
    )
    with scripted_llm() as llm:
        env = base_environment(
            {
                "KAFKA_BOOTSTRAP_SERVERS": deployment.kafka_bootstrap_servers,
                "MONGODB_URI": deployment.mongodb_uri,
                "TROUPE_TOPIC_PREFIX": deployment.topic_prefix,
                "TROUPE_MONGODB_DATABASE": deployment.mongodb_database,
                "TROUPE_EXECUTOR_WORKSPACE_ROOT": str(workspaces),
                "TROUPE_EXECUTOR_READ_ONLY_ROOTS": f'["{REPO / "samples"}"]',
                **llm_environment(llm),
            }
        )
        services = {name: ServiceProcess(name, env, logs) for name in WORKERS}
        try:
            for service in services.values():
                service.start()
            yield Pipeline(deployment, llm, services)
        finally:
            for service in services.values():
                service.stop()
            shutil.rmtree(workspaces, ignore_errors=True)


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
        await producer.stop()
