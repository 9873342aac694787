"""On cancel requested: stop the task's running steps in this replica (every replica hears every cancel)."""

from __future__ import annotations

from executor_svc.deps import SERVICE, ExecutorDeps
from schemas import CancelRequested
from troupe.boundary import owner_key
from troupe.logs import get_logger
from troupe.metrics import record_event_refused

__all__ = ["stop_steps"]

log = get_logger(__name__)


async def stop_steps(event: CancelRequested, deps: ExecutorDeps) -> None:
    owner = await deps.ledger.find(owner_key(event.task_id))
    if owner is not None and owner.tenant != event.tenant:
        # The planner dead-letters it; stopping the steps would leave the task with no end.
        log.warning("event.refused", consumer=SERVICE, type=event.type, task_id=event.task_id)
        record_event_refused(SERVICE, event.type)
        return
    deps.running.stop(event.task_id)
