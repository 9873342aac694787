"""The gateway's request span: one SERVER span per request, named by route, continuing a caller's trace."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from troupe.http_spans import RequestSpans
from troupe.telemetry import current_trace_id


def _app(tracer: trace.Tracer) -> FastAPI:
    app = FastAPI()

    @app.get("/tasks/{task_id}")
    async def get_task(task_id: str) -> dict[str, str | None]:
        return {"task_id": task_id, "trace_id": current_trace_id()}

    app.add_middleware(RequestSpans, tracer=tracer)
    return app


async def test_a_request_is_a_server_span_that_continues_the_callers_trace() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    transport = httpx.ASGITransport(app=_app(provider.get_tracer("test")))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        reply = await client.get(
            "/tasks/t-1", headers={"traceparent": f"00-{caller_trace}-b7ad6b7169203331-01"}
        )
    assert reply.json() == {"task_id": "t-1", "trace_id": caller_trace}
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /tasks/{task_id}"
    assert span.kind is trace.SpanKind.SERVER
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200
    assert span.parent is not None and format(span.parent.span_id, "016x") == "b7ad6b7169203331"
