"""Keeping an execution's results within one event: the largest outputs give way to a note of their size.

A step's output can be any size (a file read, an HTTP body), but `execution.completed` must fit in
TROUPE_MAX_EVENT_BYTES or its consumer dead-letters it and the task never ends. Summaries stay (each is at
most 4,000 characters); outputs are dropped largest first until the event fits.
"""

from __future__ import annotations

from pydantic_core import to_json

from schemas import ExecutionCompleted, StepResult, encode_event

__all__ = ["HEADROOM_BYTES", "fit_results"]

# Room for what the reviewer adds when it passes the results on in `review.completed` (verdict, feedback,
# final result, usage).
HEADROOM_BYTES = 128 * 1024


def fit_results(event: ExecutionCompleted, max_event_bytes: int) -> ExecutionCompleted:
    """`event`, with the largest step outputs replaced by a note until it fits in `max_event_bytes`."""
    budget = max_event_bytes - HEADROOM_BYTES
    excess = len(encode_event(event)) - budget
    if excess <= 0:
        return event
    sizes = {r.step_id: len(to_json(r.output)) for r in event.results}
    dropped: set[str] = set()
    for step_id in sorted(sizes, key=lambda s: sizes[s], reverse=True):
        if excess <= 0:
            break
        dropped.add(step_id)
        excess -= sizes[step_id]
    results = [
        _without_output(r, sizes[r.step_id], budget) if r.step_id in dropped else r for r in event.results
    ]
    return event.model_copy(update={"results": results})


def _without_output(result: StepResult, size: int, budget: int) -> StepResult:
    note = (
        f"[output of {size:,} bytes dropped: a task's step outputs must fit in one event of {budget:,} bytes "
        "(TROUPE_MAX_EVENT_BYTES less room for the review); its summary is kept]"
    )
    return result.model_copy(update={"output": note})
