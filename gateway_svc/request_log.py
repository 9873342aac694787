"""One structured log line per HTTP request, carrying what the handlers bound (key, tenant, task, trace).

A plain ASGI middleware rather than `@app.middleware("http")`: that one runs the route in another task, so
the context variables the route binds would be gone by the time the line is written.
"""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from troupe.logs import get_logger

__all__ = ["RequestLog"]

_log = get_logger("gateway_svc.http")


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(method=scope["method"], path=scope["path"])
        started, status = time.perf_counter(), 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            _log.info("http.request", status=status, duration_ms=duration_ms)
