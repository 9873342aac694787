"""Keeping an execution's results within one event: large outputs go to the artefact store (decision 12).

Every output over TROUPE_ARTEFACT_THRESHOLD_BYTES is stored once and its result carries the reference; if
the event would still be over TROUPE_MAX_EVENT_BYTES (many outputs just under the threshold), the largest
of the others follow until it fits. Nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic_core import to_json

from schemas import ExecutionCompleted, StepResult, encode_event
from troupe.artefacts import ArtefactStore, encode_output

__all__ = ["HEADROOM_BYTES", "REF_BYTES", "fit_results", "keep_large_outputs", "outputs_to_keep"]

# Room for what the reviewer adds when it passes the results on in `review.completed` (verdict, feedback,
# final result, usage).
HEADROOM_BYTES = 128 * 1024
# What a reference costs in the event: the id, digest and sizes, and a preview of up to 500 characters
# (escaped, up to six bytes each).
REF_BYTES = 3_400


def outputs_to_keep(
    sizes: Mapping[str, int], event_bytes: int, threshold: int, max_event_bytes: int
) -> list[str]:
    """The steps (by id) whose outputs go to the store, given each output's size and the event's size."""
    budget = max_event_bytes - HEADROOM_BYTES
    kept = [step for step, size in sizes.items() if size > threshold]
    excess = event_bytes - budget - sum(sizes[s] - REF_BYTES for s in kept)
    for step in sorted((s for s in sizes if s not in kept), key=lambda s: sizes[s], reverse=True):
        if excess <= 0:
            break
        if sizes[step] > REF_BYTES:
            kept.append(step)
            excess -= sizes[step] - REF_BYTES
    return kept


async def keep_large_outputs(
    event: ExecutionCompleted, store: ArtefactStore, threshold: int, max_event_bytes: int
) -> ExecutionCompleted:
    """`event` with the outputs `outputs_to_keep` picks stored, and their results pointing to them."""
    encoded = {r.step_id: encode_output(r.output) for r in event.results if r.output is not None}
    sizes = {step: len(data) for step, (data, _) in encoded.items()}
    chosen = set(outputs_to_keep(sizes, len(encode_event(event)), threshold, max_event_bytes))
    if not chosen:
        return event
    results = []
    for result in event.results:
        if result.step_id in chosen:
            data, media_type = encoded[result.step_id]
            key = f"{event.iteration}/{result.step_id}"
            ref = await store.put(event.tenant, event.task_id, key, data, media_type)
            result = result.model_copy(update={"output": None, "artefact": ref})
        results.append(result)
    return fit_results(event.model_copy(update={"results": results}), max_event_bytes)


def fit_results(event: ExecutionCompleted, max_event_bytes: int) -> ExecutionCompleted:
    """The last resort, should the references and summaries alone still not fit: outputs left inline give
    way to a note of their size, largest first."""
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
