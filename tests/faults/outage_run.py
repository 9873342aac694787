"""One outage under load: a steady stream of tasks over HTTP and Kafka, one server stopped for a while in the
middle and started again, then every task's end counted on Kafka and read back from the projection.

The figures (tasks, faults, lost, duplicated, stuck, dead letters, times to recover) are printed as one line
for docs/reliability.md; the test asserts on the counts, never on the times.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from schemas import FinalStatus, TaskFinished, TaskRequest, TaskSubmitted, decode_event, encode_event
from tests.e2e.conftest import FINAL, Pipeline
from tests.e2e.test_pipeline_over_kafka import DEMO
from tests.faults.private_servers import PrivateServer
from tests.integration.gateway.conftest import bearer, topic_records

# Enough requests for the load, the probes and the final reads of one key (the e2e default is tighter).
EXTRA_ENV = {"TROUPE_RATE_LIMIT_PER_MINUTE": "100000"}


@dataclass
class Submission:
    index: int
    route: str  # "http", "http+idempotency-key" or "kafka"
    task_id: str | None = None
    accepted_at: float | None = None
    refusals: list[str] = field(default_factory=list)  # what was answered before it was accepted


@dataclass
class Probe:
    """What the gateway answered during the outage."""

    ready: int = 0
    ready_detail: str = ""
    ready_retry_after: str | None = None
    read: int = 0
    read_retry_after: str | None = None
    unknown_key: int = 0


@dataclass
class OutageReport:
    server: str
    tasks: int
    routes: Counter[str]
    accepted_during_outage: int
    refusals: Counter[str]
    stop_s: float
    down_s: float
    restart_s: float
    ready_again_s: float
    all_finished_s: float
    all_projected_s: float
    probe: Probe
    lost: list[str]
    duplicated: dict[str, int]
    finished_copies: int
    stuck: dict[str, str]
    wrong: dict[str, str]
    unannounced: list[str]
    dead_letters: list[str]
    transient_retries: dict[str, int]
    statuses: Counter[str]

    def line(self) -> str:
        return (
            f"\n{self.server} outage: tasks={self.tasks} ({dict(self.routes)}), faults=1 "
            f"(stopped for {self.down_s:.0f} s, stop took {self.stop_s:.1f} s, restart {self.restart_s:.1f} s), "
            f"accepted during the outage={self.accepted_during_outage}, refused then retried={dict(self.refusals)}, "
            f"lost={len(self.lost)}, duplicated={len(self.duplicated)}, stuck={len(self.stuck)}, "
            f"wrong documents={len(self.wrong)}, dead letters={len(self.dead_letters)}, "
            f"tasks nobody was told of={len(self.unannounced)}, extra copies of task.finished={self.finished_copies}, "
            f"outcomes={dict(self.statuses)}, transient retries logged={self.transient_retries}; "
            f"after the restart: ready in {self.ready_again_s:.1f} s, every task ended in {self.all_finished_s:.1f} s, "
            f"every document final in {self.all_projected_s:.1f} s; probes during the outage: {self.probe}"
        )


async def run_outage(
    pipeline: Pipeline,
    server: PrivateServer,
    *,
    name: str,
    tasks: int = 48,
    every_s: float = 1.0,
    stop_after_s: float = 10.0,
    down_s: float = 30.0,
    finish_within_s: float = 900.0,
) -> OutageReport:
    async with (
        httpx.AsyncClient(
            base_url=pipeline.gateway_url, headers=bearer(pipeline.admin_key), timeout=60
        ) as api,
        _producer(pipeline) as producer,
    ):
        submissions = [Submission(i, _route(i)) for i in range(tasks)]
        load = asyncio.gather(
            *(_submit(api, producer, pipeline, s, delay_s=s.index * every_s) for s in submissions)
        )
        await asyncio.sleep(stop_after_s)

        stop_s = await asyncio.to_thread(server.stop)
        stopped_at = time.monotonic()
        probe = await _probe(api, submissions)
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - stopped_at)))
        restart_s = await asyncio.to_thread(server.start)
        back_at = time.monotonic()
        ready_again_s = await _until_ready(api) - back_at

        await load
        accepted = [s.task_id for s in submissions if s.task_id]
        finished, all_finished_at = await _until_all_finished(pipeline, accepted, finish_within_s)
        documents, all_projected_at = await _until_all_projected(api, accepted, deadline_s=900)

    submitted_ids = {
        decode_event(r.value).task_id
        for r in await topic_records(pipeline.settings, pipeline.topics.task_submitted)
    }
    every_task = set(accepted) | submitted_ids
    letters = await topic_records(pipeline.settings, pipeline.topics.dead_letter)
    distinct = {t: {e.event_id for e in finished.get(t, [])} for t in every_task}
    outcomes = {t: finished[t][0] for t in every_task if finished.get(t)}
    return OutageReport(
        server=name,
        tasks=len(accepted),
        routes=Counter(s.route for s in submissions),
        accepted_during_outage=sum(
            1 for s in submissions if s.accepted_at is not None and stopped_at <= s.accepted_at <= back_at
        ),
        refusals=Counter(r for s in submissions for r in s.refusals),
        stop_s=stop_s,
        down_s=back_at - stopped_at,
        restart_s=restart_s,
        ready_again_s=ready_again_s,
        all_finished_s=all_finished_at - back_at,
        all_projected_s=all_projected_at - back_at,
        probe=probe,
        lost=sorted(t for t in every_task if not distinct[t]),
        duplicated={t: len(ids) for t, ids in distinct.items() if len(ids) > 1},
        finished_copies=sum(len(copies) for copies in finished.values()) - len(finished),
        stuck={t: d.get("status", "?") for t, d in documents.items() if d.get("status") not in FINAL},
        wrong={
            t: f"{d.get('status')} != {outcomes[t].status}"
            for t, d in documents.items()
            if t in outcomes and d.get("status") != outcomes[t].status.value
        },
        unannounced=sorted(submitted_ids - set(accepted)),
        dead_letters=[r.value.decode(errors="replace")[:300] for r in letters],
        transient_retries=_transient_retries(pipeline),
        statuses=Counter(o.status.value for o in outcomes.values()),
    )


def assert_every_task_ended_once_and_right(report: OutageReport) -> None:
    assert report.tasks > 0
    assert report.lost == [], f"tasks with no end: {report.lost}"
    assert report.duplicated == {}, f"tasks with two ends: {report.duplicated}"
    assert report.stuck == {}, f"documents not final: {report.stuck}"
    assert report.wrong == {}, f"documents that disagree with the end on Kafka: {report.wrong}"
    assert report.dead_letters == [], report.dead_letters
    assert set(report.statuses) == {FinalStatus.SUCCEEDED.value}, report.statuses


def _route(index: int) -> str:
    return ("http", "http+idempotency-key", "http+idempotency-key", "kafka")[index % 4]


@asynccontextmanager
async def _producer(pipeline: Pipeline) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=pipeline.settings.kafka_bootstrap_servers,
        acks="all",
        request_timeout_ms=10_000,  # an idempotent aiokafka producer wedges after an outage: troupe/kafka.py
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _submit(
    api: httpx.AsyncClient, producer: AIOKafkaProducer, pipeline: Pipeline, s: Submission, delay_s: float
) -> None:
    """Submit one task and retry, as a client would, until it is accepted."""
    await asyncio.sleep(delay_s)
    description = f"{DEMO} (outage load #{s.index})"
    if s.route == "kafka":
        task_id = f"outage-{uuid.uuid4().hex[:10]}"
        event = TaskSubmitted(task_id=task_id, request=TaskRequest(description=description))
        while True:
            try:
                await producer.send_and_wait(
                    pipeline.topics.task_submitted, encode_event(event), key=task_id.encode()
                )
                break
            except KafkaError as exc:  # the same event again: its id makes a second copy harmless
                s.refusals.append(type(exc).__name__)
                await asyncio.sleep(1)
    else:
        headers = {"Idempotency-Key": f"outage-{uuid.uuid4().hex}"} if "key" in s.route else {}
        while True:
            try:
                answer = await api.post("/tasks", json={"description": description}, headers=headers)
            except httpx.HTTPError as exc:
                s.refusals.append(type(exc).__name__)
                await asyncio.sleep(1)
                continue
            if answer.status_code == 202:
                task_id = answer.json()["task_id"]
                break
            s.refusals.append(str(answer.status_code))
            await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
    s.task_id, s.accepted_at = task_id, time.monotonic()


async def _probe(api: httpx.AsyncClient, submissions: list[Submission]) -> Probe:
    await asyncio.sleep(3)  # the gateway's pooled connections notice the outage
    known = next(s.task_id for s in submissions if s.task_id)
    ready = await api.get("/readyz")
    read = await api.get(f"/tasks/{known}")
    stranger = await api.post("/tasks", json={"description": "x"}, headers=bearer("trp_never_verified"))
    return Probe(
        ready=ready.status_code,
        ready_detail=ready.json().get("detail", ""),
        ready_retry_after=ready.headers.get("retry-after"),
        read=read.status_code,
        read_retry_after=read.headers.get("retry-after"),
        unknown_key=stranger.status_code,
    )


async def _until_ready(api: httpx.AsyncClient) -> float:
    async with asyncio.timeout(120):
        while (await api.get("/readyz")).status_code != 200:  # noqa: ASYNC110 (polling a server)
            await asyncio.sleep(0.2)
    return time.monotonic()


async def _until_all_finished(
    pipeline: Pipeline, task_ids: list[str], within_s: float
) -> tuple[dict[str, list[TaskFinished]], float]:
    """Every copy of task.finished per task, read from Kafka until each task has one (or time is up)."""
    deadline = time.monotonic() + within_s
    while True:
        finished: dict[str, list[TaskFinished]] = defaultdict(list)
        for record in await topic_records(pipeline.settings, pipeline.topics.task_finished):
            event = decode_event(record.value)
            assert isinstance(event, TaskFinished)
            finished[event.task_id].append(event)
        if all(finished.get(t) for t in task_ids) or time.monotonic() > deadline:
            return finished, time.monotonic()
        await asyncio.sleep(3)


async def _until_all_projected(
    api: httpx.AsyncClient, task_ids: list[str], deadline_s: float
) -> tuple[dict[str, dict[str, Any]], float]:
    """Each task's document once every one is final (or as it is when time is up).

    Polls the task list, one request a round, so that the waiting adds little load to the projection."""
    deadline = time.monotonic() + deadline_s
    wanted, reported = set(task_ids), time.monotonic()
    while time.monotonic() < deadline:
        listed = (await api.get("/tasks", params={"limit": 200})).json()["items"]
        final = {t["task_id"] for t in listed if t["status"] in FINAL}
        if wanted <= final:
            break
        if time.monotonic() - reported > 30:
            print(f"  projection: {len(wanted & final)}/{len(wanted)} documents final")
            reported = time.monotonic()
        await asyncio.sleep(2)
    done_at = time.monotonic()
    documents = {}
    for task_id in task_ids:
        answer = await api.get(f"/tasks/{task_id}")
        documents[task_id] = answer.json() if answer.status_code == 200 else {"status": "not projected"}
    return documents, done_at


def _transient_retries(pipeline: Pipeline) -> dict[str, int]:
    counts = {}
    for name, service in pipeline.services.items():
        text = service.log_path.read_text(errors="replace")
        counts[name] = text.count("event.retry_transient") + text.count("projection.retry_transient")
    return counts
