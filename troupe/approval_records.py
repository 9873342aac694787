"""Where a plan's wait for approval and the one decision on it are kept in the stage ledger.

The executor records the wait; the gateway records a person's answer and the executor an expiry under the
same key, once, so whichever comes first is the decision and the other is refused.
"""

from __future__ import annotations

from troupe.ledger import stage_key

__all__ = ["decision_key", "wait_key"]


def wait_key(task_id: str, iteration: int) -> str:
    return stage_key("approval-wait", task_id, iteration)


def decision_key(task_id: str, iteration: int) -> str:
    return stage_key("approval", task_id, iteration)
