"""A span per MongoDB command, from PyMongo's command monitoring (it works for the async client too).

PyMongo reports a command's start and end to listeners, synchronously in the task that runs it, so the
span opened at the start is a child of whatever span that task has open (a Kafka consume span, say).
Spans follow the OpenTelemetry database conventions; command documents are not recorded (they hold task data).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from pymongo import monitoring

__all__ = ["CommandSpans"]

# Handshakes and authentication are connection plumbing, not the application's calls.
_SKIPPED = frozenset({"hello", "ismaster", "isMaster", "saslStart", "saslContinue", "authenticate", "ping"})


class CommandSpans(monitoring.CommandListener):
    def __init__(self, tracer: trace.Tracer | None = None) -> None:
        self._tracer = tracer or trace.get_tracer("troupe.mongodb")
        self._open: dict[tuple[int, object], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in _SKIPPED:
            return
        collection = event.command.get(event.command_name)
        target = collection if isinstance(collection, str) else event.database_name
        host, port = event.connection_id
        span = self._tracer.start_span(
            f"{event.command_name} {target}",
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": "mongodb",
                "db.system": "mongodb",
                "db.namespace": event.database_name,
                "db.operation.name": event.command_name,
                **({"db.collection.name": collection} if isinstance(collection, str) else {}),
                "server.address": str(host),
                "server.port": int(port or 0),
            },
        )
        self._open[(event.request_id, event.connection_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is None:
            return
        failure = event.failure if isinstance(event.failure, dict) else {}
        span.set_attribute("error.type", str(failure.get("codeName") or failure.get("code") or "error"))
        span.set_status(Status(StatusCode.ERROR, str(failure.get("errmsg", ""))[:200]))
        span.end()
