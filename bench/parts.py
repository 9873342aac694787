"""Each part a task cannot skip (bench/bounds.py), measured alone against the run's own servers.

A part's latency is one use at a time (what a task waits for); its CPU per use is the cheapest way found to
use it many times (16 LLM calls in flight; records written 100 to a query; look-ups one by id, 16 at once; 64
events in flight, read and committed a batch at a time), summed over this process and the server it talks to
(a server that runs elsewhere, with no pid file under .troupe/run, counts for nothing). So each figure is
cheaper than the services' own use of the part, never dearer.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import openai
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from bench.bounds import CODEC, EVENT, HTTP, LLM_CALL, LOOKUP, RECORD
from bench.llm import PLANNER_MODEL
from bench.stack import Stack, cpu_seconds, server_pids
from schemas import Plan, PlanCreated, PlanStep, TaskContext, TaskRequest, decode_event, encode_event, utc_now
from toolbox import ToolSettings, build_registry
from troupe.kafka import ensure_topics
from troupe.llm.prompts import render_prompt, render_tool_catalogue
from troupe.llm.providers.base import Message, ProviderRequest
from troupe.llm.providers.openai_compat import OpenAICompatProvider
from troupe.settings import Settings

__all__ = ["measure_parts"]

Part = dict[str, Any]  # {"latency": [seconds, ...], "cpu_ms": {process: ms per use}}

SERIAL = 200  # uses timed one at a time
MANY = 2_000  # uses whose CPU is counted
BATCHED = 10_000  # the same, for a part used in batches of 100
RECORD_BYTES = 1_000  # about one encoded event, what a ledger record holds


async def measure_parts(stack: Stack, settings: Settings) -> dict[str, Part]:
    """Every part, on the run's LLM stub, database, topic prefix and gateway (if it has one)."""
    servers = server_pids()
    assert stack.llm is not None
    parts = {
        CODEC: _event_codec(),
        LLM_CALL: await _llm_call(stack.llm_url, stack.llm.pid),
        **await _ledger(settings.mongodb_uri, stack.database, servers.get("ferretdb")),
        EVENT: await _kafka_event(settings, f"{stack.prefix}.parts", servers.get("kafka broker")),
    }
    if stack.gateway_url:
        parts[HTTP] = await _http_round_trip(stack.gateway_url)
    return parts


async def _cpu_per_use(
    uses: int, run: Callable[[], Awaitable[None]], server: tuple[str, int | None]
) -> dict[str, float]:
    """CPU milliseconds per use, of this process and of the server (if it runs here), over `run()` doing
    `uses` uses."""
    name, pid = server
    # This process's clock is exact; a server's is in scheduler ticks (10 ms), hence the many uses.
    mine, theirs = time.process_time(), cpu_seconds(pid) if pid else 0.0
    await run()
    used = {"client": (time.process_time() - mine) * 1000 / uses}
    if pid:
        used[name] = (cpu_seconds(pid) - theirs) * 1000 / uses
    return used


async def _timed(count: int, use: Callable[[], Awaitable[object]]) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await use()
        samples.append(time.perf_counter() - started)
    return samples


async def _in_flight(count: int, at_once: int, use: Callable[[], Awaitable[object]]) -> None:
    gate = asyncio.Semaphore(at_once)

    async def one() -> None:
        async with gate:
            await use()

    await asyncio.gather(*(one() for _ in range(count)))


def _event_codec() -> Part:
    """A plan event, the kind the planner writes, encoded as a stage publishes it and decoded as the next
    reads it."""
    request = TaskRequest(description="add one and one")
    event = PlanCreated(
        task_id="0" * 32,
        tenant="bench",
        context=TaskContext.starting(request, submitted_at=utc_now()),
        plan=Plan(steps=[PlanStep(id="calc", tool="math", args={"expression": "1+1"})]),
        planner=f"openai:{PLANNER_MODEL}",
    )
    started = time.process_time()
    for _ in range(BATCHED):
        decode_event(encode_event(event))
    return {"cpu_ms": {"client": (time.process_time() - started) * 1000 / BATCHED}}


async def _llm_call(url: str, pid: int) -> Part:
    """The planner's own request (its prompt with the tool catalogue, the plan's JSON schema) through the
    services' provider class and the `openai` client, against the run's LLM stub."""
    provider = OpenAICompatProvider(
        "openai", openai.AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
    )
    prompt = render_prompt(
        "planner",
        tool_catalogue=render_tool_catalogue(build_registry(ToolSettings()).specs()),
        task="add one and one",
        revision="",
    )
    request = ProviderRequest(
        model=PLANNER_MODEL,
        messages=(Message("user", prompt),),
        json_schema=Plan.model_json_schema(),
        schema_name="Plan",
        max_output_tokens=2_000,
        timeout_s=30,
    )

    async def call() -> None:
        await provider.generate(request)

    try:
        await _timed(50, call)  # connections and first-use imports
        latency = await _timed(SERIAL, call)
        cpu = await _cpu_per_use(MANY, lambda: _in_flight(MANY, 16, call), ("llm", pid))
    finally:
        await provider.aclose()
    return {"latency": latency, "cpu_ms": cpu}


async def _ledger(uri: str, database: str, pid: int | None) -> dict[str, Part]:
    """A ledger record's insert and look-up by id, on a collection of the run's database."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    records = client[database]["bench_parts"]
    counter = iter(range(10**9))

    def record() -> dict[str, Any]:
        n = next(counter)
        return {"_id": f"stage:{n:032d}:1", "task_id": f"{n:032d}", "event": "x" * RECORD_BYTES}

    async def insert_one() -> None:
        await records.insert_one(record())

    async def insert_batches() -> None:
        for _ in range(BATCHED // 100):
            await records.insert_many([record() for _ in range(100)], ordered=False)

    async def find_one() -> None:
        await records.find_one({"_id": f"stage:{next(counter) % 1000:032d}:1"})

    try:
        await _timed(50, insert_one)
        written = await _timed(SERIAL, insert_one)
        write_cpu = await _cpu_per_use(BATCHED, insert_batches, ("ferretdb", pid))
        read = await _timed(SERIAL, find_one)
        # One by one, 16 at once: FerretDB's SQLite backend answers `_id: {$in: [...]}` by scanning the
        # collection (about 1.5 ms of its CPU per document found, against 0.7 for one `find_one` by id).
        read_cpu = await _cpu_per_use(MANY, lambda: _in_flight(MANY, 16, find_one), ("ferretdb", pid))
    finally:
        await client.close()
    return {RECORD: {"latency": written, "cpu_ms": write_cpu}, LOOKUP: {"latency": read, "cpu_ms": read_cpu}}


async def _kafka_event(settings: Settings, topic: str, pid: int | None) -> Part:
    """Events of about a record's size produced with the services' acks, read back and committed."""
    bootstrap = settings.kafka_bootstrap_servers
    await ensure_topics(settings, [topic], settings.kafka_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await producer.start()
    await consumer.start()
    payload = b"x" * RECORD_BYTES
    try:
        while not consumer.assignment():  # joined: what is sent from now on is read
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()

        async def send() -> None:
            await producer.send_and_wait(topic, payload, key=os.urandom(8))

        async def read_all() -> None:
            left = MANY
            while left > 0:
                batches = await consumer.getmany(timeout_ms=1_000)
                left -= sum(len(records) for records in batches.values())
                await consumer.commit()

        async def run() -> None:
            await asyncio.gather(_in_flight(MANY, 64, send), read_all())

        cpu = await _cpu_per_use(MANY, run, ("kafka broker", pid))
    finally:
        await consumer.stop()
        await producer.stop()
    return {"cpu_ms": cpu}


async def _http_round_trip(gateway_url: str) -> Part:
    """The gateway's cheapest route (`/healthz`, no I/O behind it): the HTTP stack's own round trip."""
    async with httpx.AsyncClient(base_url=gateway_url) as client:

        async def get() -> None:
            (await client.get("/healthz")).raise_for_status()

        await _timed(20, get)
        return {"latency": await _timed(SERIAL, get)}
