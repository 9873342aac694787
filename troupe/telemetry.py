"""OpenTelemetry set-up: one tracer provider and one meter provider per process, exporting over OTLP/HTTP
when an endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`).

The trace context itself travels in Kafka headers (FastStream's telemetry middleware, see troupe.kafka), so
a task's spans across the four services join into one trace.

Exporting never holds up a service: spans and metrics leave from background threads, each export gives up
after `_EXPORT_TIMEOUT_S`, and an endpoint that is down costs a warning in the log and the dropped data,
nothing else. The providers flush on interpreter exit, which a service's graceful stop reaches.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from troupe import __version__
from troupe.settings import Settings

__all__ = [
    "configure_metrics",
    "configure_telemetry",
    "configure_tracing",
    "current_span_ids",
    "current_trace_id",
    "trace_url",
]

_EXPORT_TIMEOUT_S = 5.0
_METRIC_INTERVAL_MS = 15_000


def service_resource(settings: Settings) -> Resource:
    return Resource.create(
        {"service.name": settings.service_name, "service.version": __version__, "service.namespace": "troupe"}
    )


def configure_telemetry(settings: Settings) -> tuple[TracerProvider, MeterProvider]:
    return configure_tracing(settings), configure_metrics(settings)


def configure_tracing(settings: Settings) -> TracerProvider:
    provider = TracerProvider(resource=service_resource(settings))
    if settings.otlp_endpoint:
        # Imported here: the exporter pulls in protobuf, which processes without an endpoint do not need.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(
            endpoint=_signal_url(settings.otlp_endpoint, "traces"), timeout=_EXPORT_TIMEOUT_S
        )
        provider.add_span_processor(
            BatchSpanProcessor(exporter, export_timeout_millis=_EXPORT_TIMEOUT_S * 1000)
        )
    trace.set_tracer_provider(provider)
    return provider


def configure_metrics(settings: Settings, readers: tuple[MetricReader, ...] = ()) -> MeterProvider:
    """`readers` lets tests read the metrics in memory; OTLP export is added when an endpoint is set."""
    all_readers = list(readers)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = OTLPMetricExporter(
            endpoint=_signal_url(settings.otlp_endpoint, "metrics"), timeout=_EXPORT_TIMEOUT_S
        )
        all_readers.append(
            PeriodicExportingMetricReader(
                exporter,
                export_interval_millis=_METRIC_INTERVAL_MS,
                export_timeout_millis=_EXPORT_TIMEOUT_S * 1000,
            )
        )
    if settings.metrics_port is not None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_address)
        all_readers.append(PrometheusMetricReader())
    provider = MeterProvider(resource=service_resource(settings), metric_readers=all_readers)
    metrics.set_meter_provider(provider)
    return provider


def _signal_url(endpoint: str, signal: str) -> str:
    return f"{endpoint.rstrip('/')}/v1/{signal}"


def current_trace_id() -> str | None:
    """The 32-hex-digit id of the active trace, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def current_span_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the active span in hex, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return (format(context.trace_id, "032x"), format(context.span_id, "016x")) if context.is_valid else None


def trace_url(grafana_url: str, trace_id: str, datasource_uid: str = "tempo") -> str:
    """A link that opens one trace in Grafana's Explore, through the provisioned Tempo datasource."""
    pane = {
        "datasource": datasource_uid,
        "queries": [
            {
                "refId": "A",
                "datasource": {"type": "tempo", "uid": datasource_uid},
                "queryType": "traceql",
                "query": trace_id,
            }
        ],
        "range": {"from": "now-24h", "to": "now"},
    }
    panes = quote(json.dumps({"trace": pane}, separators=(",", ":")), safe="")
    return f"{grafana_url.rstrip('/')}/explore?schemaVersion=1&panes={panes}"
