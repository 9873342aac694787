"""The tenant's quota of tasks in flight, checked when a task is submitted.

Counted from the projection (tasks whose status is not final), so it is approximate: a task the gateway has
published but the projection has not stored yet is not counted, and concurrent POSTs all see the same count.
A burst can therefore go past the quota by about the number of requests in flight at once, and a task that
just ended may still count for the projection's lag (milliseconds). While MongoDB is unreachable the quota is
not enforced (logged), like the rate limit: failing closed would make a database outage an API outage.
"""

from __future__ import annotations

from fastapi import HTTPException, status

from gateway_svc.components import Components
from troupe.errors import brief, is_transient
from troupe.logs import get_logger

__all__ = ["within_quota"]

_log = get_logger(__name__)


async def within_quota(parts: Components, tenant: str) -> None:
    """Refuse (429) a new task when the tenant already has `max_tasks_in_flight` tasks that have not ended."""
    try:
        quota = (await parts.policies.get(tenant)).max_tasks_in_flight
        if quota is None:
            return
        open_tasks = await parts.tasks.count_open(tenant, quota)
    except Exception as exc:
        if not is_transient(exc):
            raise
        _log.warning("task quota not enforced: the store is unreachable", error=brief(exc))
        return
    if open_tasks >= quota:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"tenant {tenant!r} has {open_tasks} tasks in flight, the most its policy allows "
            f"(max_tasks_in_flight = {quota}); submit again when one has ended",
            headers={"Retry-After": "5"},
        )
