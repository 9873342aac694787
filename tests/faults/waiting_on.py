"""Which worker each unfinished task waits on, read from the events seen on the topics. Pure.

A task waits on the worker that consumes its furthest event: the planner for `task.submitted` and
`review.completed`, the executor for `plan.created` and `step.progressed`, the reviewer for
`execution.completed`. Its furthest event is the latest stage of its latest iteration, not the last one
heard: the topics are read side by side, and a stage redone after a kill repeats an earlier event late.
With every record fetched at once (no in-flight limit reached), a running worker holds all of these in flight.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from schemas import Envelope

__all__ = ["waiting_on"]

# Event type -> (its place within an iteration, the worker that consumes it).
_STAGES: dict[str, tuple[int, str]] = {
    "task.submitted": (0, "planner_svc"),
    "plan.created": (1, "executor_svc"),
    "step.progressed": (2, "executor_svc"),
    "execution.completed": (3, "reviewer_svc"),
    "review.completed": (4, "planner_svc"),
}


def waiting_on(task_ids: Iterable[str], events: Mapping[str, Sequence[Envelope]]) -> Counter[str]:
    """How many of `task_ids` wait on each worker; an ended task, or one never seen, waits on none."""
    waiting: Counter[str] = Counter()
    for task_id in task_ids:
        history = events.get(task_id, [])
        staged = [e for e in history if e.type in _STAGES]
        if not staged or any(e.type == "task.finished" for e in history):
            continue
        furthest = max(staged, key=lambda e: (e.iteration, _STAGES[e.type][0]))
        waiting[_STAGES[furthest.type][1]] += 1
    return waiting
