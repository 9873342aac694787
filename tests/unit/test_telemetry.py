"""Telemetry pieces that need no collector: log lines name their span, tool steps are spans and metrics,
metrics carry the names the dashboards read, and a trace link opens Grafana's Explore on the trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from troupe import metrics
from troupe.logs import add_trace_ids
from troupe.telemetry import trace_url


@pytest.fixture(scope="module")
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    otel_metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield reader


def _points(reader: InMemoryMetricReader) -> dict[str, list[dict[str, object]]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[dict[str, object]]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = [dict(p.attributes or {}) for p in metric.data.data_points]
    return found


def test_a_log_line_written_inside_a_span_names_its_trace_and_span() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        line = add_trace_ids(None, "info", {"event": "x"})
    context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in add_trace_ids(None, "info", {"event": "outside"})


def test_recorded_metrics_carry_the_declared_names_and_labels(reader: InMemoryMetricReader) -> None:
    metrics.record_task_finished("succeeded", 12.5)
    metrics.record_stage("plan.created", "ok", 0.4)
    metrics.record_llm_usage("openai", "gpt-4o", 100, 20, 0.01)
    metrics.record_tool_step("python_exec", "failed", 0.2, "bwrap")
    metrics.set_consumer_lag("troupe.planner", "troupe.tasks.submitted", 3)
    metrics.record_event_refused("executor", "plan.created")
    metrics.watch_in_flight("troupe.executor", lambda: 7)
    points = _points(reader)
    for metric in metrics.ALL:
        assert metric.name in points, metric.name
        for attributes in points[metric.name]:
            assert set(attributes) == set(metric.labels), (metric.name, attributes)
    assert {"group": "troupe.planner", "topic": "troupe.tasks.submitted"} in points[metrics.CONSUMER_LAG.name]
    assert {"group": "troupe.executor"} in points[metrics.EVENTS_IN_FLIGHT.name]


async def test_a_tool_step_is_a_span_with_its_outcome(tmp_path: Path, reader: InMemoryMetricReader) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from executor_svc import toolbox_runner
    from executor_svc.step_runner import StepFailed
    from toolbox import ToolContext, ToolSettings, build_registry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    original = toolbox_runner._tracer
    toolbox_runner._tracer = provider.get_tracer("test")
    try:
        runner = toolbox_runner.ToolboxRunner(build_registry(ToolSettings()), ToolContext(workspace=tmp_path))
        assert await runner.run("math", {"expression": "6 * 7"}) is not None
        with pytest.raises(StepFailed):
            await runner.run("math", {"expression": "1 / 0"})
    finally:
        toolbox_runner._tracer = original
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["tool math", "tool math"]
    assert [s.attributes["troupe.tool.outcome"] for s in spans] == ["succeeded", "failed"]  # type: ignore[index]
    assert spans[1].status.status_code is trace.StatusCode.ERROR
    assert {"tool": "math", "outcome": "failed"} in _points(reader)[metrics.TOOL_FAILURES.name]


def test_a_trace_link_opens_the_trace_in_grafana_explore() -> None:
    url = trace_url("http://localhost:3000/", "0af7651916cd43dd8448eb211c80319c")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost:3000", "/explore")
    panes = json.loads(parse_qs(parts.query)["panes"][0])
    (pane,) = panes.values()
    assert pane["datasource"] == "tempo"
    assert pane["queries"][0]["query"] == "0af7651916cd43dd8448eb211c80319c"
