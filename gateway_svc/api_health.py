"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway_svc.components import Parts

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers; nothing else is checked (a restart would not fix a missing broker)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "MongoDB or Kafka is unreachable."}})
async def readyz(parts: Parts) -> JSONResponse:
    """Ready when MongoDB and Kafka both answer: only then can the gateway read tasks and accept them."""
    checks = await parts.readiness()
    ready = all(checks.values())
    return JSONResponse(
        {"ready": ready, "checks": checks},
        status_code=200 if ready else 503,
        headers={} if ready else {"Retry-After": "5"},
    )
