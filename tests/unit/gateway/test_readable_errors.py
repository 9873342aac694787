"""The fuzz's notion of a readable 4xx: JSON with a non-empty `detail` string, or FastAPI's validation list."""

from __future__ import annotations

import json

import pytest

from tests.faults.gateway_fuzz import unreadable

VALIDATION = [{"type": "missing", "loc": ["body", "description"], "msg": "Field required", "input": {}}]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"detail": "unknown or revoked API key"}),
        (422, {"detail": VALIDATION}),
        (429, {"detail": "rate limit of 600 requests per minute reached; retry in 3 s"}),
        (500, "Internal Server Error"),  # not a 4xx: the 5xx check's business
        (200, "anything"),
    ],
)
def test_readable_answers_pass(status: int, body: object) -> None:
    raw = json.dumps(body).encode() if isinstance(body, dict) else str(body).encode()
    assert unreadable(status, raw) is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"Not Found", "not JSON"),
        (b"", "not JSON"),
        (b'{"detail": ""}', "empty detail"),
        (b'{"detail": "   "}', "empty detail"),
        (b'{"error": "no such task"}', "without a readable detail"),
        (b'["no such task"]', "without a readable detail"),
        (b'{"detail": null}', "without a readable detail"),
        (b'{"detail": []}', "without a readable detail"),
        (b'{"detail": [{"loc": ["query", "limit"]}]}', "without a readable detail"),
        (b'{"detail": [{"msg": "too big", "loc": "limit"}]}', "without a readable detail"),
        (b'{"detail": [{"msg": "", "loc": ["query"]}]}', "without a readable detail"),
    ],
)
def test_unreadable_answers_are_named(body: bytes, why: str) -> None:
    problem = unreadable(404, body)
    assert problem is not None and why in problem and problem.startswith("404")
