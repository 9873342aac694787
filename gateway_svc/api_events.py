"""GET /tasks/{id}/events: the task's snapshot, then its events live, as server-sent events."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import StreamingResponse
from pymongo.errors import ConnectionFailure

from gateway_svc.access import Caller
from gateway_svc.api_errors import refusals
from gateway_svc.api_tasks import TaskId
from gateway_svc.components import Components, Parts
from gateway_svc.live_events import LiveEvent, Subscription
from gateway_svc.task_state import TaskState
from gateway_svc.views import task_view

__all__ = ["router", "sse"]

router = APIRouter(tags=["tasks"], responses=refusals(401, 404, 429, 503))
_ENDING = {"task.finished", "event.dead_lettered"}


def sse(event: str, data: str, event_id: str | None = None) -> str:
    lines = [f"event: {event}"] + ([f"id: {event_id}"] if event_id else [])
    lines += [f"data: {line}" for line in data.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


@router.get(
    "/tasks/{task_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "A stream of server-sent events."}},
)
async def stream_events(task_id: TaskId, caller: Caller, parts: Parts) -> StreamingResponse:
    """`snapshot` (the task as GET /tasks/{id} shows it), then one event per task event, named by its type,
    with the event's JSON as data; the stream ends after `task.finished` (or a dead letter)."""
    sub = parts.live.subscribe(task_id)  # before reading the snapshot, so nothing falls in between
    try:
        snapshot, early = await _first_sight(parts, sub, caller.tenant)
    except BaseException:
        sub.close()
        raise
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(parts, sub, caller.tenant, snapshot, early), media_type="text/event-stream", headers=headers
    )


async def _first_sight(
    parts: Components, sub: Subscription, tenant: str
) -> tuple[TaskState | None, list[LiveEvent]]:
    """The task's state, or its first live event: a task just submitted may not be projected yet."""
    deadline = time.monotonic() + parts.settings.sse_first_event_wait_s
    while True:
        task = await parts.tasks.load(sub.task_id)
        if task is not None:
            break
        try:
            event = await sub.next(within_s=0.2)
        except TimeoutError:
            event = None
        if event is not None and event.tenant == tenant:
            return None, [event]
        if time.monotonic() >= deadline:
            break
    if task is None or task.tenant != tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"task {sub.task_id} not found")
    return task, []


async def _stream(
    parts: Components, sub: Subscription, tenant: str, snapshot: TaskState | None, early: list[LiveEvent]
) -> AsyncIterator[str]:
    try:
        if snapshot is not None:
            yield sse("snapshot", task_view(snapshot).model_dump_json())
            if snapshot.terminal:
                return
        for event in early:
            yield sse(event.type, event.json, event.event_id)
            if event.type in _ENDING:
                return
        while True:
            try:
                live = await sub.next(within_s=parts.settings.sse_keepalive_s)
            except TimeoutError:
                # The projection may have seen the end before this stream subscribed: look again.
                task = await _load_quietly(parts, sub.task_id)
                if task is not None and task.terminal:
                    yield sse("snapshot", task_view(task).model_dump_json())
                    return
                yield ": keep-alive\n\n"
                continue
            if live is None:
                return
            if live.tenant not in (tenant, None):  # dead letters may not know the tenant
                continue
            yield sse(live.type, live.json, live.event_id)
            if live.type in _ENDING:
                return
    finally:
        sub.close()


async def _load_quietly(parts: Components, task_id: str) -> TaskState | None:
    """The task, or None while MongoDB is away: a stream outlives a database hiccup."""
    try:
        return await parts.tasks.load(task_id)
    except ConnectionFailure:
        return None
