"""A deployment of its own for a long fault run: unique topics and database on the shared servers, N replicas
of each worker as OS processes (same consumer groups), one gateway, and the scripted LLM.

Its topics and database are removed afterwards unless `TROUPE_FAULTS_KEEP_DATA` is set (to look into a failed
run); the figures are in the report and the services' logs stay in the pytest folder.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.conftest import WORKERS, free_port
from tests.e2e.processes import ServiceProcess, answers, deployment_environment
from tests.e2e.scripted_llm import ScriptedLLM, llm_environment, scripted_llm
from tests.throwaway import throwaway_suffix
from troupe.db import make_client
from troupe.service import group_name
from troupe.settings import Settings

__all__ = ["GATEWAY", "START_TIMEOUT_S", "Deployment", "consumer_groups", "deployment"]

GATEWAY = "gateway_svc"
# A process starting on two cores shared with other suites may take a minute and more to join its groups.
START_TIMEOUT_S = 180


@dataclass
class Deployment:
    settings: Settings
    llm: ScriptedLLM
    replicas: dict[str, list[ServiceProcess]]  # module -> its processes
    gateway_url: str

    def processes(self) -> dict[str, ServiceProcess]:
        """Every process by a label of its own (`planner_svc#1`, ...)."""
        return {f"{m}#{i}": p for m, ps in self.replicas.items() for i, p in enumerate(ps, start=1)}


def consumer_groups(settings: Settings) -> dict[str, list[str]]:
    """The consumer groups the services form, with the topics each one reads."""
    topics = settings.topics
    return {
        group_name(settings, "planner"): [
            topics.task_submitted,
            topics.review_completed,
            topics.cancel_requested,
        ],
        group_name(settings, "executor"): [topics.plan_created],
        group_name(settings, "reviewer"): [topics.execution_completed],
        group_name(settings, "projection"): topics.all(),
    }


@asynccontextmanager
async def deployment(
    settings: Settings,
    logs: Path,
    replicas: int = 1,
    llm_latency_s: float = 0.0,
    env_extra: dict[str, str] | None = None,
) -> AsyncIterator[Deployment]:
    unique = throwaway_suffix(8)
    own = settings.model_copy(
        update={"topic_prefix": f"fault-{unique}", "mongodb_database": f"fault_{unique}"}
    )
    workspaces = _workspace_root()
    with scripted_llm(latency_s=llm_latency_s) as llm:
        gateway_port = free_port()
        env = deployment_environment(
            own,
            workspaces,
            {
                **llm_environment(llm),
                "TROUPE_GATEWAY_PORT": str(gateway_port),
                "TROUPE_ADMIN_API_KEY": f"trp_faults_{uuid.uuid4().hex}",
                # The runs submit hundreds of tasks through one key; the limit is not what they test.
                "TROUPE_RATE_LIMIT_PER_MINUTE": "1000000",
                **(env_extra or {}),
            },
        )
        # Thousands of tasks' spans would only load the shared trace store, which these runs do not read.
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        gateway_url = f"http://127.0.0.1:{gateway_port}"

        def process(module: str, index: int) -> ServiceProcess:
            (folder := logs / f"{module}-{index}").mkdir(parents=True, exist_ok=True)
            if module == GATEWAY:
                # Under load on two cores a ready gateway may take seconds to answer.
                ready = answers(f"{gateway_url}/readyz", timeout_s=15)
                return ServiceProcess(module, env, folder, ready=ready)
            return ServiceProcess(module, env, folder)

        processes = {m: [process(m, i) for i in range(1, replicas + 1)] for m in WORKERS}
        processes[GATEWAY] = [process(GATEWAY, 1)]
        started = Deployment(own, llm, processes, gateway_url)
        try:
            # Started side by side: each start waits for its process to say it is ready.
            await asyncio.gather(
                *(asyncio.to_thread(p.start, START_TIMEOUT_S) for p in started.processes().values())
            )
            yield started
        finally:
            await asyncio.gather(*(asyncio.to_thread(p.stop) for p in started.processes().values()))
            shutil.rmtree(workspaces, ignore_errors=True)
            if not os.environ.get("TROUPE_FAULTS_KEEP_DATA"):
                await _remove_data(own)


def _workspace_root() -> Path:
    # Sandboxed code runs as an unprivileged user, who must be able to enter every folder above its workspace.
    root = Path(tempfile.mkdtemp(prefix="troupe-faults-"))
    root.chmod(0o755)
    return root


async def _remove_data(settings: Settings) -> None:
    """Delete the run's topics and database: hundreds of partitions left behind weigh on the shared broker."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id="faults-cleanup"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.delete_topics([t for t in settings.topics.all() if t in existing])
    finally:
        await admin.close()
    client = make_client(settings)
    try:
        await client.drop_database(settings.mongodb_database)
    finally:
        await client.close()
