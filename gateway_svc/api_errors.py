"""The refusals the API documents in its OpenAPI schema, so that a generated client knows every answer.

Every refusal is `{"detail": "<a readable reason>"}`, except 422, which is FastAPI's list of invalid fields
(`{"detail": [{"loc", "msg", "type"}]}`), a bad page cursor included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["Refusal", "refusals"]


class Refusal(BaseModel):
    detail: str = Field(description="Why the request was refused, in words.")


_WHY = {
    400: "The body could not be read as JSON text (e.g. it is not UTF-8).",
    401: "No API key, or an unknown or revoked one.",
    403: "The key's role may not do this; `detail` says which role may.",
    404: "No such task for the caller's tenant: other tenants' tasks are as absent as unknown ones.",
    413: "The request body, or the event it would make, is over the event size limit.",
    429: "The key's rate limit is reached; `Retry-After` says when to try again.",
    503: "MongoDB or Kafka is unreachable (or did not acknowledge in time); `Retry-After` says when to retry.",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
}


def refusals(*codes: int, why: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these status codes, each with its usual reason or the route's own from `why`
    (a code can mean different things on different routes: 409)."""
    answers: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        answer: dict[str, Any] = {"model": Refusal, "description": (why or {}).get(code, _WHY.get(code, ""))}
        if code in (429, 503):
            answer["headers"] = _RETRY_AFTER
        answers[code] = answer
    return answers
