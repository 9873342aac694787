"""The task endpoints. The gateway changes tasks only by publishing events; it reads the projection."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from opentelemetry import trace

from gateway_svc.access import Caller
from gateway_svc.api_errors import refusals
from gateway_svc.components import Components, Parts
from gateway_svc.idempotency import Claim, fingerprint
from gateway_svc.pagination import encode_cursor
from gateway_svc.quota import within_quota
from gateway_svc.task_state import TaskState, TaskStatus
from gateway_svc.views import Accepted, LogPage, TaskPage, TaskView, task_summary, task_view
from schemas import (
    CancelRequested,
    TaskRequest,
    TaskSubmitted,
    deterministic_event_id,
    encode_event,
    utc_now,
)
from schemas.envelope import ID_PATTERN, Envelope
from troupe.errors import is_transient
from troupe.telemetry import current_trace_id

__all__ = ["TaskId", "owned_task", "publish_or_503", "router"]

router = APIRouter(tags=["tasks"], responses=refusals(401, 429, 503))
_tracer = trace.get_tracer(__name__)

TaskId = Annotated[str, Path(pattern=ID_PATTERN, description="The task id POST /tasks answered with.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=255,
        description="Retries with the same key answer with the same task and publish it only once.",
    ),
]


@router.post(
    "/tasks",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=refusals(
        400,
        409,
        413,
        429,
        why={
            409: "The Idempotency-Key was already used for a different request.",
            429: "The key's rate limit, or the tenant's quota of tasks in flight (max_tasks_in_flight), is "
            "reached; `detail` says which.",
        },
    ),
)
async def submit_task(
    request: TaskRequest,
    caller: Caller,
    parts: Parts,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Accepted:
    """Accept a task: publish `task.submitted` and answer with its id before any work is done."""
    if (refusal := parts.refusal(request)) is not None:
        invalid = {"type": "value_error", "loc": ["body", "constraints", "max_cost_usd"], "msg": refusal}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [invalid])
    task_id, submitted_at = str(uuid.uuid4()), utc_now()
    if idempotency_key is not None:
        claim = await _claim(
            parts,
            Claim(
                tenant=caller.tenant,
                key=idempotency_key,
                task_id=task_id,
                fingerprint=fingerprint(request.model_dump_json().encode()),
                submitted_at=submitted_at,
            ),
        )
        if claim.fingerprint != fingerprint(request.model_dump_json().encode()):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"Idempotency-Key {idempotency_key!r} was already used for a different request",
            )
        task_id, submitted_at = claim.task_id, claim.submitted_at
        if claim.published:
            return _accepted(task_id, None, response)
    await within_quota(parts, caller.tenant)
    event = TaskSubmitted(
        event_id=deterministic_event_id(task_id, "task.submitted"),
        task_id=task_id,
        tenant=caller.tenant,
        request=request,
        occurred_at=submitted_at,
    )
    _within_event_limit(event, parts.settings.max_event_bytes)
    with _tracer.start_as_current_span("task submit"):
        await publish_or_503(parts, event)
        trace_id = current_trace_id()
    structlog.contextvars.bind_contextvars(task_id=task_id, task_trace_id=trace_id)
    if idempotency_key is not None:
        await parts.idempotency.mark_published(caller.tenant, idempotency_key)
    return _accepted(task_id, trace_id, response)


@router.get("/tasks", response_model=TaskPage)
async def list_tasks(
    caller: Caller,
    parts: Parts,
    status_: Annotated[list[TaskStatus], Query(alias="status", description="Only these statuses.")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> TaskPage:
    """The caller's tenant's tasks, newest first."""
    found = await parts.tasks.page(caller.tenant, [s.value for s in status_], limit, cursor)
    last = found[-1] if len(found) == limit else None
    return TaskPage(
        items=[task_summary(t) for t in found],
        next_cursor=encode_cursor(last.created_at, last.task_id) if last else None,
    )


@router.get("/tasks/{task_id}", response_model=TaskView, responses=refusals(404))
async def get_task(task_id: TaskId, caller: Caller, parts: Parts) -> TaskView:
    """Status, current step, progress, plan, step results, review, result or error, usage and trace id."""
    return task_view(await owned_task(parts, task_id, caller.tenant), parts.settings.grafana_url)


@router.get("/tasks/{task_id}/logs", response_model=LogPage, responses=refusals(404))
async def get_logs(
    task_id: TaskId,
    caller: Caller,
    parts: Parts,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> LogPage:
    """The task's log in time order: one entry per event."""
    await owned_task(parts, task_id, caller.tenant)
    entries = await parts.tasks.log_page(task_id, limit, cursor)
    last = entries[-1] if len(entries) == limit else None
    return LogPage(items=entries, next_cursor=encode_cursor(last.time, last.event_id) if last else None)


@router.delete(
    "/tasks/{task_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=refusals(404, 409, why={409: "The task already ended."}),
)
async def cancel_task(
    task_id: TaskId,
    caller: Caller,
    parts: Parts,
    response: Response,
    reason: Annotated[str, Query(max_length=2_000)] = "cancelled by request",
) -> Accepted:
    """Ask the pipeline to stop the task; it ends as `cancelled` once the working stage has stopped."""
    task = await owned_task(parts, task_id, caller.tenant)
    if task.terminal:
        raise HTTPException(status.HTTP_409_CONFLICT, f"task {task_id} already ended: {task.status}")
    event = CancelRequested(task_id=task_id, tenant=caller.tenant, iteration=task.iteration, reason=reason)
    with _tracer.start_as_current_span("task cancel"):
        await publish_or_503(parts, event)
    accepted = _accepted(task_id, task.trace_id, response)
    return accepted.model_copy(update={"status": "cancel_requested"})


async def owned_task(parts: Components, task_id: str, tenant: str) -> TaskState:
    """The task if the tenant owns it; other tenants' tasks are as absent as unknown ones (404)."""
    structlog.contextvars.bind_contextvars(task_id=task_id)
    task = await parts.tasks.load(task_id)
    if task is not None and task.tenant == tenant:
        # Not `trace_id`: log lines carry the active span's ids under that name (troupe.logs).
        structlog.contextvars.bind_contextvars(task_trace_id=task.trace_id)
    if task is None or task.tenant != tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"task {task_id} not found")
    return task


def _within_event_limit(event: Envelope, max_bytes: int) -> None:
    """The body passed the size check, but the event adds its envelope: refuse here what the planner would."""
    size = len(encode_event(event))
    if size > max_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"the task's event would be {size:,} bytes, over the limit of {max_bytes:,} bytes "
            "(TROUPE_MAX_EVENT_BYTES); put large inputs in a file the task reads",
        )


async def _claim(parts: Components, claim: Claim) -> Claim:
    try:
        return await parts.idempotency.claim(claim)
    except Exception as exc:
        if not is_transient(exc):
            raise
        # Accepting without the claim could publish a retried request twice: refuse, so the client retries.
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "an Idempotency-Key cannot be honoured while the task store (MongoDB) is unreachable; "
            "retry later with the same key",
            headers={"Retry-After": "5"},
        ) from exc


async def publish_or_503(parts: Components, event: Envelope) -> None:
    try:
        async with asyncio.timeout(parts.settings.publish_timeout_s):
            await parts.publisher.publish(event)
    except Exception as exc:  # any broker failure is the same to the caller: not accepted, try again
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"could not publish the {event.type} event to Kafka ({type(exc).__name__}); retry later",
            headers={"Retry-After": "5"},
        ) from exc


def _accepted(task_id: str, trace_id: str | None, response: Response) -> Accepted:
    response.headers["Location"] = f"/tasks/{task_id}"
    return Accepted(
        task_id=task_id,
        trace_id=trace_id,
        links={
            "self": f"/tasks/{task_id}",
            "events": f"/tasks/{task_id}/events",
            "logs": f"/tasks/{task_id}/logs",
        },
    )
