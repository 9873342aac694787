"""Liveness and readiness for orchestrators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway_svc.components import Parts

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", responses={503: {"description": "A part of the process stopped working."}})
async def healthz(parts: Parts) -> JSONResponse:
    """The process works: it answers, and its projection is reading. Only what a restart would fix is
    checked; a missing broker or database is not (a restart would not bring it back: see /readyz)."""
    checks = parts.liveness()
    if all(checks.values()):
        return JSONResponse({"status": "ok"})
    down = ", ".join(name for name, up in checks.items() if not up)
    return JSONResponse(
        {"status": "failing", "checks": checks, "detail": f"not working: {down}; restart this replica"},
        status_code=503,
    )


_NAMES = {"mongodb": "MongoDB", "kafka": "Kafka"}


@router.get("/readyz", responses={503: {"description": "MongoDB or Kafka is unreachable."}})
async def readyz(parts: Parts) -> JSONResponse:
    """Ready when MongoDB and Kafka both answer: only then can the gateway read tasks and accept them.
    Each check gives up after 2 s, so an outage answers 503 at once rather than when a client times out."""
    checks = await parts.readiness()
    if all(checks.values()):
        return JSONResponse({"ready": True, "checks": checks})
    down = [_NAMES.get(name, name) for name, up in checks.items() if not up]
    detail = f"not ready: {' and '.join(down)} {'does' if len(down) == 1 else 'do'} not answer; retry later"
    return JSONResponse(
        {"ready": False, "checks": checks, "detail": detail}, status_code=503, headers={"Retry-After": "5"}
    )
