"""The gateway fuzzed from its own OpenAPI document, as a real process over real Kafka and FerretDB: no 5xx,
every 4xx with a readable reason, every status one the document lists, and nothing but 401 for a request
without a valid key."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import requests
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from schemas import FinalStatus, TaskFinished
from tests.e2e.conftest import drop_database, free_port
from tests.e2e.processes import ServiceProcess, answers, base_environment
from tests.faults.gateway_fuzz import FuzzFigures, fuzz_operation, load_operations
from tests.throwaway import throwaway_suffix
from troupe.settings import Settings

# Far above what a fuzzer sends in a minute, so the limit never decides an answer (429 would still be
# readable: the fuzz accepts it like any other 4xx).
FUZZ_RATE_LIMIT_PER_MINUTE = 1_000_000


@dataclass
class FuzzedGateway:
    url: str
    key: str
    settings: Settings
    process: ServiceProcess


@dataclass
class KnownTasks:
    """Real task ids, so the fuzzer reaches past 404 into logs, cursors, cancels and event streams."""

    open_task: str
    ended_task: str


@pytest.fixture(scope="module")
def gateway(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzedGateway]:
    """The gateway alone (no workers: submitted tasks stay submitted) on topics and a database of its own."""
    unique = throwaway_suffix(8)
    deployment = settings.model_copy(
        update={"topic_prefix": f"fuzz{unique}", "mongodb_database": f"fuzz_{unique}"}
    )
    port, key = free_port(), f"trp_fuzz_{secrets.token_urlsafe(24)}"
    env = base_environment(
        {
            "KAFKA_BOOTSTRAP_SERVERS": deployment.kafka_bootstrap_servers,
            "MONGODB_URI": deployment.mongodb_uri,
            "TROUPE_TOPIC_PREFIX": deployment.topic_prefix,
            "TROUPE_MONGODB_DATABASE": deployment.mongodb_database,
            "TROUPE_GATEWAY_PORT": str(port),
            "TROUPE_ADMIN_API_KEY": key,
            "TROUPE_RATE_LIMIT_PER_MINUTE": str(FUZZ_RATE_LIMIT_PER_MINUTE),
            # A stream for an unknown task answers 404 after this wait; the fuzzer asks for many.
            "TROUPE_SSE_FIRST_EVENT_WAIT_S": "0.2",
        }
    )
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # thousands of requests' spans would only load the machine
    url = f"http://127.0.0.1:{port}"
    process = ServiceProcess(
        "gateway_svc", env, tmp_path_factory.mktemp("fuzz-logs"), ready=answers(f"{url}/readyz")
    )
    try:
        process.start()
        yield FuzzedGateway(url, key, deployment, process)
    finally:
        process.stop()
        drop_database(deployment)


@pytest.fixture(scope="module")
async def known(gateway: FuzzedGateway) -> AsyncIterator[KnownTasks]:
    async with httpx.AsyncClient(
        base_url=gateway.url, headers={"Authorization": f"Bearer {gateway.key}"}
    ) as api:
        open_task = await _submit(api, "fuzz: an open task")
        ended_task = await _submit(api, "fuzz: an ended task")
        producer = AIOKafkaProducer(bootstrap_servers=gateway.settings.kafka_bootstrap_servers, acks="all")
        await producer.start()
        try:
            ended = TaskFinished(
                task_id=ended_task, tenant="default", status=FinalStatus.FAILED, reason="fuzz"
            )
            await producer.send_and_wait(
                gateway.settings.topics.task_finished,
                ended.model_dump_json().encode(),
                key=ended_task.encode(),
            )
        finally:
            await producer.stop()
        for task_id, status in ((open_task, "submitted"), (ended_task, "failed")):
            await _until_projected(api, task_id, status)
    yield KnownTasks(open_task, ended_task)


async def _submit(api: httpx.AsyncClient, description: str) -> str:
    answer = await api.post("/tasks", json={"description": description})
    assert answer.status_code == 202, answer.text
    task_id: str = answer.json()["task_id"]
    return task_id


async def _until_projected(api: httpx.AsyncClient, task_id: str, status: str) -> None:
    async with asyncio.timeout(60):
        while True:
            answer = await api.get(f"/tasks/{task_id}")
            if answer.status_code == 200 and answer.json()["status"] == status:
                return
            await asyncio.sleep(0.2)


def run_fuzz(gateway: FuzzedGateway, known: KnownTasks, examples: int) -> FuzzFigures:
    """Every operation with a valid key (on random and on real task ids), then without a key and with a bad one."""
    operations = load_operations(gateway.url)
    figures = FuzzFigures()
    with requests.Session() as session:

        def fuzz(scenario: str, token: str | None, n: int, **known_ids: str) -> None:
            for operation in operations:
                takes_id = "{task_id}" in operation.path
                if known_ids and not takes_id:
                    continue
                task_id = known_ids.get("events" if operation.path.endswith("/events") else "other")
                fuzz_operation(
                    operation,
                    base_url=gateway.url,
                    session=session,
                    figures=figures,
                    scenario=scenario,
                    token=token,
                    examples=n,
                    path_parameters={"task_id": task_id} if task_id else None,
                )

        fuzz("valid key", gateway.key, examples)
        # An open task's event stream never ends, so streams are asked of the ended task.
        fuzz("valid key", gateway.key, max(1, examples // 2), other=known.open_task, events=known.ended_task)
        fuzz("valid key", gateway.key, max(1, examples // 2), other=known.ended_task, events=known.ended_task)
        fuzz("no key", None, max(1, examples // 4))
        fuzz("bad key", f"trp_{secrets.token_urlsafe(32)}", max(1, examples // 4))
    return figures


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on a free port in a thread of its own; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


def broken_app() -> FastAPI:
    """Crashes on odd numbers and answers unknown ids with plain text: what the fuzz is there to catch."""
    app = FastAPI()

    @app.get("/halves/{n}")
    async def half(n: int) -> dict[str, int]:
        if n % 2:
            raise RuntimeError("odd")
        return {"half": n // 2}

    @app.get("/things/{thing_id}")
    async def thing(thing_id: int) -> PlainTextResponse:
        return PlainTextResponse("no such thing", status_code=404)

    return app


def test_the_fuzz_catches_a_5xx_and_an_unreadable_4xx() -> None:
    figures = FuzzFigures()
    with serving(broken_app()) as url, requests.Session() as session:
        for operation in load_operations(url):
            fuzz_operation(
                operation,
                base_url=url,
                session=session,
                figures=figures,
                scenario="valid key",
                token=None,
                examples=20,
            )
    assert any("GET /halves/{n} -> 500" in failure for failure in figures.server_errors)
    assert any("GET /things/{thing_id} -> 404" in failure for failure in figures.unreadable_4xx)
    assert figures.unreadable_4xx[0].count("not JSON") == 1
    assert any("GET /things/{thing_id} -> 404" in failure for failure in figures.undocumented)


def report(figures: FuzzFigures, capsys: pytest.CaptureFixture[str], log: Path) -> None:
    with capsys.disabled():
        print(f"\n{figures.summary()}\n  gateway log: {log}")


def assert_clean(figures: FuzzFigures) -> None:
    failures = figures.failures()
    assert not failures, f"{figures.summary()}\n" + "\n".join(failures[:20])


def test_fuzzed_requests_get_no_5xx_and_a_readable_reason_for_every_4xx(
    gateway: FuzzedGateway, known: KnownTasks, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = run_fuzz(gateway, known, examples=12)
    report(figures, capsys, gateway.process.log_path)
    assert_clean(figures)
    assert figures.statuses[202] > 0 and figures.statuses[401] > 0, (
        "the fuzz never got past or stopped at auth"
    )


@pytest.mark.long_fault
def test_thousands_of_fuzzed_requests_get_no_5xx_and_a_readable_reason_for_every_4xx(
    gateway: FuzzedGateway, known: KnownTasks, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = run_fuzz(gateway, known, examples=200)
    report(figures, capsys, gateway.process.log_path)
    assert_clean(figures)
