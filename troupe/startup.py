"""Start-up steps that need Kafka or MongoDB: tried again while those are unreachable, for a while.

Servers and services start in any order (compose, Kubernetes, a laptop): a service that starts a few
seconds before its broker or database waits for them, and says so, rather than crashing with a traceback.
Only an outage is waited out (`troupe.errors.is_transient`); any other failure ends the start at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from troupe.errors import brief, is_transient
from troupe.logs import get_logger

__all__ = ["StartFailed", "when_reachable"]

T = TypeVar("T")
log = get_logger(__name__)
_MAX_PAUSE_S = 5.0


class StartFailed(RuntimeError):
    """A start-up step's server stayed unreachable for the whole start timeout."""


async def when_reachable(what: str, step: Callable[[], Awaitable[T]], within_s: float) -> T:
    """`step()`, run again with a growing pause while it fails because a server is unreachable; after
    `within_s` seconds of that, StartFailed saying which step and why."""
    deadline = time.monotonic() + within_s
    attempt = 0
    while True:
        try:
            return await step()
        except Exception as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("startup.gave_up", step=what, attempts=attempt, error=brief(exc))
                raise StartFailed(
                    f"{what}: still unreachable after {within_s:g} s (TROUPE_START_TIMEOUT_S): {brief(exc)}"
                ) from exc
            log.warning("startup.waiting", step=what, attempt=attempt, error=brief(exc))
            await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), _MAX_PAUSE_S, left))
