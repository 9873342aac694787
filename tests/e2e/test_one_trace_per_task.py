"""A task is one trace: its spans from the gateway and every service, revisions included, read back from the
local trace store (infra/jaeger.sh) through its HTTP API."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.conftest import GRAFANA_URL, ApiClient, Pipeline, trace_store_url
from tests.e2e.test_pipeline_over_kafka import DEMO
from troupe.consumer_lag import topic_partitions

SERVER, PRODUCER, CONSUMER = 2, 4, 5  # OTLP SpanKind values


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    service: str
    attributes: dict[str, Any]


def _value(value: dict[str, Any]) -> Any:
    (kind, raw), *_ = value.items()
    return int(raw) if kind == "intValue" else raw


def _attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item["value"]) for item in items}


_KINDS = {"SPAN_KIND_SERVER": SERVER, "SPAN_KIND_PRODUCER": PRODUCER, "SPAN_KIND_CONSUMER": CONSUMER}


def parse_otlp(document: dict[str, Any]) -> list[Span]:
    spans = []
    for resource in document["result"]["resourceSpans"]:
        service = _attributes(resource["resource"]["attributes"])["service.name"]
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                kind: Any = span.get("kind", 0)
                spans.append(
                    Span(
                        trace_id=span["traceId"],
                        span_id=span["spanId"],
                        parent_id=span.get("parentSpanId", ""),
                        name=span["name"],
                        kind=_KINDS.get(kind, 0) if isinstance(kind, str) else int(kind),
                        service=service,
                        attributes=_attributes(span.get("attributes", [])),
                    )
                )
    return spans


async def trace_ids_on_kafka(pipeline: Pipeline, task_id: str) -> set[str]:
    """The trace id in the traceparent header of every message on the task's topics keyed by the task."""
    servers = pipeline.settings.kafka_bootstrap_servers
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        topics = [t for t in pipeline.topics.all() if t != pipeline.topics.dead_letter]
        partitions = [tp for tps in (await topic_partitions(admin, topics)).values() for tp in tps]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    await consumer.start()
    found: set[str] = set()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    traceparent = dict(record.headers).get("traceparent")
                    if record.key == task_id.encode() and traceparent:
                        found.add(traceparent.decode().split("-")[1])
    finally:
        await consumer.stop()
    return found


async def read_trace(trace_id: str, done: Any, timeout_s: float = 45) -> list[Span]:
    """Poll the store until `done(spans)` holds and the span count stops growing (exports are batched)."""
    url = f"{trace_store_url()}/api/v3/traces/{trace_id}"
    spans: list[Span] = []
    async with httpx.AsyncClient(timeout=10) as client, asyncio.timeout(timeout_s):
        while True:
            reply = await client.get(url)
            if reply.status_code == 200:
                latest = parse_otlp(reply.json())
                if done(latest) and len(latest) == len(spans):
                    return latest
                spans = latest
            await asyncio.sleep(1)


async def test_a_revised_task_is_one_trace_from_the_gateway_through_every_service(
    api: ApiClient, pipeline: Pipeline
) -> None:
    answer = await api.http.post("/tasks", json={"description": DEMO, "constraints": {"max_iterations": 3}})
    assert answer.status_code == 202, answer.text
    task = await api.wait_until_final(answer.json()["task_id"])
    assert (task["status"], task["iteration"]) == ("succeeded", 2), task.get("error")

    trace_id = task["trace_id"]
    assert await trace_ids_on_kafka(pipeline, task["task_id"]) == {trace_id}
    assert task["trace_url"].startswith(f"{GRAFANA_URL}/explore?") and trace_id in unquote(task["trace_url"])

    def complete(spans: list[Span]) -> bool:
        reviews = [s for s in spans if s.service == "reviewer" and s.name.startswith("llm ")]
        return len(reviews) >= 2  # the revise verdict and the approval

    spans = await read_trace(trace_id, complete)
    assert {s.trace_id for s in spans} == {trace_id}
    assert {"gateway", "planner", "executor", "reviewer"} <= {s.service for s in spans}

    # The trace starts at the gateway's request span; the revision is more spans of the same trace.
    roots = [s for s in spans if not s.parent_id]
    assert [(r.service, r.name, r.kind) for r in roots] == [("gateway", "POST /tasks", SERVER)], roots

    # Across Kafka: a consume span's parent is a producer span of the service that published.
    by_id = {s.span_id: s for s in spans}
    hops = Counter(
        (by_id[s.parent_id].service, s.service)
        for s in spans
        if s.kind == CONSUMER and s.parent_id in by_id and by_id[s.parent_id].kind == PRODUCER
    )
    expected = {
        ("gateway", "planner"),
        ("planner", "executor"),
        ("executor", "reviewer"),
        ("reviewer", "planner"),
    }
    assert expected <= set(hops), hops

    llm = [s for s in spans if s.name.startswith("llm ")]
    assert Counter(s.attributes["troupe.llm.role"] for s in llm) == {"planner": 2, "reviewer": 2}
    assert all(s.attributes["gen_ai.usage.input_tokens"] > 0 for s in llm)
    assert all(s.attributes["gen_ai.request.model"] for s in llm)
    # Each LLM call sits under the consume span of the event that asked for it: the planner's directly, the
    # reviewer's inside its review span (which carries the verifier findings).
    for call in llm:
        parent = by_id[call.parent_id]
        if call.attributes["troupe.llm.role"] == "reviewer":
            assert parent.name == "review", parent.name
            parent = by_id[parent.parent_id]
        assert parent.kind == CONSUMER, (call.name, parent.name)
    reviews = [s for s in spans if s.name == "review"]
    [approval] = [s for s in reviews if s.attributes["troupe.review.verdict"] == "approved"]
    assert len(reviews) == 2 and approval.attributes["troupe.review.findings"] >= 1
    assert approval.attributes["troupe.review.findings_failed"] == 0

    tools = [s for s in spans if s.name.startswith("tool ")]
    assert [(s.service, s.name) for s in tools] == [("executor", "tool code_analyzer")] * 2
    # The first plan looks for a function that is not there; the revised one finds the path.
    assert "succeeded" in {s.attributes["troupe.tool.outcome"] for s in tools}
    assert any(s.attributes.get("db.system.name") == "mongodb" for s in spans)


@pytest.fixture(autouse=True)
def _trace_store_is_up() -> None:
    try:
        httpx.get(f"{trace_store_url()}/api/services", timeout=3).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(
            f"the local trace store does not answer at {trace_store_url()} ({exc}); run `make infra-up`"
        )
