"""The end of a fault run: wait until every accepted task has ended (on the topic and in the projection), or
until nothing has moved for a while, then read what the projection shows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from tests.e2e.event_log import EventLog
from tests.faults.tally import FINAL
from troupe.db import make_client
from troupe.settings import Settings

__all__ = ["projected_statuses", "until_quiet"]


async def projected_statuses(settings: Settings, task_ids: Sequence[str]) -> dict[str, str | None]:
    """Each task's status in the gateway's projection (None where it has none)."""
    client = make_client(settings)
    try:
        tasks = client[settings.mongodb_database]["tasks"]
        found = {doc["_id"]: doc["status"] async for doc in tasks.find({}, {"status": 1})}
    finally:
        await client.close()
    return {task_id: found.get(task_id) for task_id in task_ids}


async def until_quiet(
    events: EventLog,
    settings: Settings,
    task_ids: Sequence[str],
    idle_s: float = 90,
    limit_s: float = 600,
    projection: bool = True,
) -> dict[str, object]:
    """Wait until every task is final on the topic and in the projection, until neither the topics nor the
    projection have moved for `idle_s`, or `limit_s`; say which, and when each side was done.

    The projection is watched too because it may trail the topics by a lot: a restarted gateway replays
    everything it had not committed, through one consumer for all topics. `projection=False` waits for the
    topics only.
    """
    began = time.monotonic()
    done: dict[str, object] = {"topics_final_after_s": None, "projection_final_after_s": None}
    seen: tuple[int, int] = (-1, -1)
    moved = began
    while (now := time.monotonic()) - began < limit_s:
        on_topic = sum(len(history) for history in events.by_task.values())
        statuses = await projected_statuses(settings, task_ids)
        projected = sum(status in FINAL for status in statuses.values())
        if done["topics_final_after_s"] is None and all(events.finished(t) for t in task_ids):
            done["topics_final_after_s"] = round(now - began, 1)
        if done["projection_final_after_s"] is None and (projected == len(task_ids) or not projection):
            done["projection_final_after_s"] = round(now - began, 1)
        if None not in done.values():
            return done | {"quiet_by": "all final"}
        if (on_topic, projected) != seen:
            seen, moved = (on_topic, projected), now
        elif now - moved > idle_s:
            return done | {"quiet_by": f"nothing moved for {idle_s} s"}
        await asyncio.sleep(3)
    return done | {"quiet_by": f"gave up after {limit_s} s"}
