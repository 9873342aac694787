"""Fuzzing the gateway from its own OpenAPI document with schemathesis: no 5xx, every 4xx says why, and
every status code that comes back is one the document lists for its operation.

Driven from schemathesis' Python API (`APIOperation.as_strategy` under Hypothesis' `@given`) rather than its
pytest plugin: one loop over every operation, in positive and negative modes, that keeps going after a
failure so a run counts every bad answer instead of stopping (and shrinking) at the first.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, CheckContext, GenerationMode, Response
from schemathesis.checks import status_code_conformance
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err

__all__ = ["FuzzFigures", "Operation", "fuzz_operation", "load_operations", "readable_reason", "unreadable"]

REQUEST_TIMEOUT_S = 15
# 5xx answers the API documents as its contract rather than a crash: /readyz says 503 while a dependency
# does not answer within its check's timeout, which a loaded machine can cause in the middle of a run.
DOCUMENTED_5XX = {("GET /readyz", 503)}


def unreadable(status_code: int, body: bytes) -> str | None:
    """Why a 4xx body does not tell a client what went wrong; None when it does, or when it is not a 4xx.

    Readable is JSON with a `detail` that is a non-empty string, or FastAPI's validation list whose items
    each carry a non-empty `msg` and a `loc` list.
    """
    if not 400 <= status_code < 500:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return f"{status_code} body is not JSON: {body[:200]!r}"
    detail = document.get("detail") if isinstance(document, dict) else None
    if isinstance(detail, str):
        return None if detail.strip() else f"{status_code} with an empty detail"
    if isinstance(detail, list) and detail and all(_validation_item(item) for item in detail):
        return None
    return f"{status_code} without a readable detail: {body[:200]!r}"


def _validation_item(item: object) -> bool:
    return (
        isinstance(item, dict)
        and isinstance(item.get("msg"), str)
        and bool(item["msg"].strip())
        and isinstance(item.get("loc"), list)
    )


@schemathesis.check
def readable_reason(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx answer carries a reason a person can read (see `unreadable`)."""
    problem = unreadable(response.status_code, response.content)
    if problem is not None:
        raise AssertionError(problem)
    return None


Operation = APIOperation[Any, Any, Any, Any]


def load_operations(base_url: str) -> list[Operation]:
    """Every operation of the gateway's OpenAPI document, as the gateway serves it."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=REQUEST_TIMEOUT_S)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operations.append(result.ok())
    return operations


@dataclass
class FuzzFigures:
    """What a run sent and what came back, per scenario (valid key, no key, bad key)."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)
    documented_5xx: int = 0
    unreadable_4xx: list[str] = field(default_factory=list)
    # Answers whose status code the OpenAPI document does not list for their operation.
    undocumented: list[str] = field(default_factory=list)
    # Protected operations that answered 2xx to a request without a valid key.
    unauthenticated_2xx: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        scenarios = ", ".join(f"{name}: {n}" for name, n in sorted(self.cases.items()))
        return (
            f"gateway fuzz: {len(self.operations)} operations, {sum(self.cases.values())} cases ({scenarios}); "
            f"5xx: {len(self.server_errors)} (+{self.documented_5xx} documented /readyz 503), "
            f"unreadable 4xx: {len(self.unreadable_4xx)}, undocumented statuses: {len(self.undocumented)}, "
            f"2xx without a valid key: "
            f"{len(self.unauthenticated_2xx)}, transport errors: {len(self.transport_errors)}; "
            f"statuses {{{statuses}}}"
        )

    def failures(self) -> list[str]:
        return (
            self.server_errors
            + self.unreadable_4xx
            + self.undocumented
            + self.unauthenticated_2xx
            + self.transport_errors
        )


PUBLIC = {"GET /healthz", "GET /readyz"}


def fuzz_operation(
    operation: Operation,
    *,
    base_url: str,
    session: requests.Session,
    figures: FuzzFigures,
    scenario: str,
    token: str | None,
    examples: int,
    path_parameters: dict[str, Any] | None = None,
) -> None:
    """Send `examples` generated requests per generation mode; record every answer in `figures`."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else None
    figures.operations.add(operation.label)

    def send(case: Case[Any]) -> None:
        figures.cases[scenario] += 1
        try:
            response = case.call(
                base_url=base_url, session=session, headers=headers, timeout=REQUEST_TIMEOUT_S
            )
        except requests.RequestException as exc:
            figures.transport_errors.append(f"{operation.label}: {exc!r}\n  {_curl(case, headers)}")
            return
        _judge(case, response, headers, figures, scenario)

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
        run = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
        )(given(case=strategy)(send))
        # An operation without inputs (GET /healthz) has no negative cases to make.
        with contextlib.suppress(Unsatisfiable):
            run()


def _judge(
    case: Case[Any], response: Response, headers: dict[str, str] | None, figures: FuzzFigures, scenario: str
) -> None:
    label, status = case.operation.label, response.status_code
    figures.statuses[status] += 1
    where = f"{label} -> {status} ({scenario}): {response.content[:300]!r}\n  {_curl(case, headers)}"
    if status >= 500:
        if (label, status) in DOCUMENTED_5XX:
            figures.documented_5xx += 1
        else:
            figures.server_errors.append(where)
        return
    if scenario != "valid key" and label not in PUBLIC and 200 <= status < 300:
        figures.unauthenticated_2xx.append(where)
    for check, found in (
        (readable_reason, figures.unreadable_4xx),
        (status_code_conformance, figures.undocumented),
    ):
        try:
            case.validate_response(response, checks=[check], headers=headers)
        except FailureGroup as failed:
            found.append(f"{where}\n  {failed.exceptions[0]}")


def _curl(case: Case[Any], headers: dict[str, str] | None) -> str:
    return case.as_curl_command(headers=headers)
