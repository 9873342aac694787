"""A SERVER span per HTTP request (OpenTelemetry HTTP conventions), as plain ASGI middleware.

An incoming `traceparent` is continued; otherwise the request starts a trace, so a task submitted over HTTP
has its whole trace under the gateway's request span. Streaming responses (the live event feed) end their
span when the response ends.
"""

from __future__ import annotations

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestSpans"]


class RequestSpans:
    def __init__(self, app: ASGIApp, tracer: trace.Tracer | None = None) -> None:
        self._app = app
        self._tracer = tracer or trace.get_tracer("troupe.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        parent = propagate.extract(carrier)
        method = scope.get("method", "GET")
        status: dict[str, int] = {}

        async def send_with_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        span = self._tracer.start_span(
            method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope.get("path", ""),
                "url.scheme": scope.get("scheme", "http"),
            },
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self._app(scope, receive, send_with_status)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            context.detach(token)
            _finish(span, scope, status.get("code"))


def _finish(span: Span, scope: Scope, code: int | None) -> None:
    route = getattr(scope.get("route"), "path", None)
    if route:
        span.update_name(f"{scope.get('method', 'GET')} {route}")
        span.set_attribute("http.route", route)
    if code is not None:
        span.set_attribute("http.response.status_code", code)
        if code >= 500:
            span.set_status(Status(StatusCode.ERROR))
    span.end()
