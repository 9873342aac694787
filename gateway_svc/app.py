"""The gateway's composition root: `create_app(settings)` builds the FastAPI app; it connects on start."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pymongo.errors import PyMongoError

from gateway_svc import api_approvals, api_artifacts, api_events, api_health, api_keys, api_policy, api_tasks
from gateway_svc.body_limit import BodyLimit
from gateway_svc.components import Components
from gateway_svc.pagination import BadCursor
from gateway_svc.request_log import RequestLog
from gateway_svc.settings import GatewaySettings
from troupe import __version__
from troupe.errors import is_transient
from troupe.http_spans import RequestSpans

__all__ = ["Connect", "create_app"]

Connect = Callable[[GatewaySettings], AbstractAsyncContextManager[Components]]


def create_app(settings: GatewaySettings | None = None, connect: Connect | None = None) -> FastAPI:
    """`connect` opens the gateway's parts for the app's lifetime: the real ones by default, fakes in tests."""
    settings = settings or GatewaySettings()
    open_parts = connect or _real_parts()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_parts(settings) as components:
            app.state.components = components
            yield

    app = FastAPI(
        title="Troupe gateway",
        version=__version__,
        description="Submit tasks to Troupe and follow them. Authenticate with `Authorization: Bearer <key>`.",
        lifespan=lifespan,
    )
    app.include_router(api_tasks.router)
    app.include_router(api_approvals.router)
    app.include_router(api_artifacts.router)
    app.include_router(api_events.router)
    app.include_router(api_health.router)
    app.include_router(api_policy.router)
    app.include_router(api_keys.router)
    app.add_exception_handler(PyMongoError, _database_unavailable)
    app.add_exception_handler(BadCursor, _bad_cursor)
    # Inside the request log and span, so a refused body is logged and traced like any other answer.
    app.add_middleware(BodyLimit, max_bytes=settings.max_event_bytes)
    app.add_middleware(RequestLog)
    app.add_middleware(RequestSpans)  # outermost, so the request log lines carry the request's trace
    return app


def _real_parts() -> Connect:
    from gateway_svc.wiring import connect  # imported only when the real adapters are wanted

    return connect


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    if not is_transient(exc):
        raise exc  # a refused command is a bug to see as a 500, not an outage to wait out
    return JSONResponse(
        {"detail": "the task store (MongoDB) is unreachable; retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def _bad_cursor(request: Request, exc: Exception) -> JSONResponse:
    # The same shape as FastAPI's answer for any other invalid parameter, which the OpenAPI schema documents.
    invalid = {"type": "value_error", "loc": ["query", "cursor"], "msg": str(exc)}
    return JSONResponse({"detail": [invalid]}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
