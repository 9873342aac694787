"""OpenTelemetry set-up: one tracer provider per process, exporting over OTLP when an endpoint is set.

The trace context itself travels in Kafka headers (FastStream's telemetry middleware, see troupe.kafka), so
a task's spans across the four services join into one trace.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from troupe import __version__
from troupe.settings import Settings

__all__ = ["configure_tracing", "current_trace_id"]


def configure_tracing(settings: Settings) -> TracerProvider:
    resource = Resource.create(
        {"service.name": settings.service_name, "service.version": __version__, "service.namespace": "troupe"}
    )
    provider = TracerProvider(resource=resource)
    if settings.otlp_endpoint:
        # Imported here: the exporter pulls in protobuf, which processes without an endpoint do not need.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def current_trace_id() -> str | None:
    """The 32-hex-digit id of the active trace, or None outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
