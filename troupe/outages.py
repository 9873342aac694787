"""Calls that need Kafka or MongoDB, tried again while those are unreachable: the one way Troupe waits out an
outage in-process (a worker's handler waits by having its message redelivered instead, `troupe.consuming`).

- A starting service: servers and services start in any order (compose, Kubernetes, a laptop), so one that
  starts before its broker or database waits for it, for a while, and says so, rather than crashing.
- The gateway's projection: a batch waits, uncommitted, for MongoDB to come back, however long it takes.

Only an outage is waited out (`troupe.errors.is_transient`); any other failure is raised at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from troupe.errors import brief, is_transient
from troupe.logs import get_logger

__all__ = ["StillUnreachable", "when_reachable"]

T = TypeVar("T")
log = get_logger(__name__)


class StillUnreachable(RuntimeError):
    """A call's server stayed unreachable for as long as the caller would wait."""


async def when_reachable(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    within_s: float | None = None,
    pause_s: float = 0.5,
    max_pause_s: float = 5.0,
    logged_as: str = "outage.waiting",
) -> T:
    """`call()`, run again while it fails because a server is unreachable, after pauses doubling from
    `pause_s` up to `max_pause_s`, each logged as `logged_as`. After `within_s` seconds of that (never, if
    None), StillUnreachable saying what could not be done and why."""
    deadline = None if within_s is None else time.monotonic() + within_s
    attempt = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                log.error("outage.gave_up", step=what, attempts=attempt, error=brief(exc))
                raise StillUnreachable(
                    f"{what}: still unreachable after {within_s:g} s: {brief(exc)}"
                ) from exc
            log.warning(logged_as, step=what, attempt=attempt, error=brief(exc))
            pause = min(pause_s * 2 ** (attempt - 1), max_pause_s)
            await asyncio.sleep(pause if left is None else min(pause, left))
