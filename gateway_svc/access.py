"""Who is calling, and may they call now: bearer key lookup, then the key's rate limit.

While MongoDB is unreachable (decision 9): a key verified within the last `TROUPE_KEY_CACHE_TTL_S` is still
accepted, any other key is 503 (it can be neither accepted nor refused), and the rate limit is not enforced
(it fails open, logged), so that tasks can still be submitted to Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway_svc.auth import ApiKey
from gateway_svc.components import Parts
from troupe.errors import brief, is_transient
from troupe.logs import get_logger

__all__ = ["Caller"]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer <key>`.")
_log = get_logger(__name__)


@dataclass(frozen=True)
class _Verified:
    key: ApiKey
    store_reachable: bool


async def _authenticated(
    parts: Parts, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> _Verified:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
    try:
        key = await parts.keys.find(token)
    except Exception as exc:
        if not is_transient(exc):
            raise
        return _recalled(parts, token, exc)
    parts.recent_keys.note(token, key)
    if key is None or key.revoked:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    structlog.contextvars.bind_contextvars(key_id=key.key_id, tenant=key.tenant)
    return _Verified(key, store_reachable=True)


def _recalled(parts: Parts, token: str, error: Exception) -> _Verified:
    key = parts.recent_keys.recall(token)
    if key is None:
        _log.warning("auth: key store unreachable and key not verified lately", error=brief(error))
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "cannot verify this API key: the key store (MongoDB) is unreachable and the key was not "
            f"verified in the last {parts.recent_keys.ttl_s:g} s; retry later",
            headers={"Retry-After": "5"},
        )
    structlog.contextvars.bind_contextvars(key_id=key.key_id, tenant=key.tenant)
    _log.warning("auth: key store unreachable, key verified lately accepted", error=brief(error))
    return _Verified(key, store_reachable=False)


async def _within_limit(
    parts: Parts, verified: Annotated[_Verified, Depends(_authenticated)], response: Response
) -> ApiKey:
    key = verified.key
    if not verified.store_reachable:
        _log.warning("rate limit not enforced: the store is unreachable")
        return key
    try:
        decision = await parts.limiter.check(key.key_id)
    except Exception as exc:
        if not is_transient(exc):
            raise
        # Failing closed would turn the outage of a counter into an outage of the API.
        _log.warning("rate limit not enforced: the store is unreachable", error=brief(exc))
        return key
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
