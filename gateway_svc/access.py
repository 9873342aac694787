"""Who is calling, and may they call now: bearer key lookup, then the key's rate limit."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway_svc.auth import ApiKey
from gateway_svc.components import Parts

__all__ = ["Caller"]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")


async def _authenticated(
    parts: Parts, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiKey:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key = await parts.keys.find(credentials.credentials)
    if key is None or key.revoked:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    structlog.contextvars.bind_contextvars(key_id=key.key_id, tenant=key.tenant)
    return key


async def _within_limit(
    parts: Parts, key: Annotated[ApiKey, Depends(_authenticated)], response: Response
) -> ApiKey:
    decision = await parts.limiter.check(key.key_id)
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    if not decision.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"rate limit of {decision.limit} requests per minute reached; retry in {decision.retry_after_s} s",
            headers=headers | {"Retry-After": str(decision.retry_after_s)},
        )
    response.headers.update(headers)
    return key


Caller = Annotated[ApiKey, Depends(_within_limit)]
