"""Events -> task state, as a pure function: the read model of every task.

The result depends on which events were seen, not on the order they came in: statuses only move forward by
(iteration, stage rank), per-iteration data is kept for the newest iteration, a terminal status never
changes, and an event id already applied changes nothing. One thing is decided by the order the events were
stored, as any writer on Kafka can backdate an event's time: a task belongs to the tenant of its first stored
submission (of its first stored event, until one is stored). Events naming another tenant, and endings that
do not follow the task's lifecycle, are ignored and listed in the task's `flags`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from gateway_svc.task_state import (
    ApprovalState,
    DecisionState,
    EventFlag,
    LogEntry,
    ReviewState,
    StepState,
    TaskState,
    TaskStatus,
)
from schemas import (
    ApprovalDecided,
    ApprovalDecision,
    CancelRequested,
    DeadLettered,
    ExecutionCompleted,
    FinalStatus,
    InvalidEvent,
    PlanAwaitingApproval,
    PlanCreated,
    ReviewCompleted,
    StepPhase,
    StepProgressed,
    TaskEvent,
    TaskFinished,
    TaskSubmitted,
    Verdict,
    decode_event,
)
from troupe.event_limits import check_event_size

__all__ = [
    "ProjectedEvent",
    "TracedEvent",
    "fold",
    "log_entry",
    "owner_tenant",
    "project",
    "read_event",
    "suspect_endings",
    "trace_id_from",
]

ProjectedEvent = TaskEvent | DeadLettered
TracedEvent = tuple[ProjectedEvent, str | None]  # an event and the trace id its message carried

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# Stage ranks within one iteration; a revise verdict opens the next iteration at PLANNING. A plan goes from
# PLANNED to EXECUTING, or through AWAITING (and DECIDED, once approved) when it waits for a person.
_SUBMITTED, _PLANNING, _PLANNED, _AWAITING, _DECIDED, _EXECUTING, _REVIEWING, _REVIEWED = range(8)


def read_event(raw: bytes, max_bytes: int | None = None) -> ProjectedEvent | None:
    """The event in a payload, or None: the projection skips what it cannot read (its producer's
    consumer dead-letters it). A task event over `max_bytes` is skipped too, as its consumer refuses it;
    a dead letter may be larger, since it carries such an event whole."""
    try:
        if max_bytes is not None:
            check_event_size(raw, max_bytes)
        return decode_event(raw)
    except InvalidEvent:
        pass
    try:
        return DeadLettered.model_validate_json(raw)
    except ValidationError:
        return None


def trace_id_from(traceparent: str | None) -> str | None:
    """The trace id of a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`)."""
    match = _TRACEPARENT.match(traceparent.strip().lower()) if traceparent else None
    if match is None or set(match.group(1)) == {"0"}:
        return None
    return match.group(1)


def project(
    state: TaskState | None,
    event: ProjectedEvent,
    *,
    trace_id: str | None,
    now: datetime,
    owner: str | None = None,
    suspect: Mapping[str, str] | None = None,
) -> TaskState | None:
    """The state after `event`, or None when the event changes nothing (duplicate, or no task id).

    The task's tenant is `owner`, else that of the state, else the event's; an event naming another tenant,
    or whose id `suspect` gives a reason for, is only listed in the task's flags.
    """
    if event.task_id is None or (state is not None and event.event_id in state.applied_events):
        return None
    base = state or TaskState(
        task_id=event.task_id,
        tenant=owner or _tenant(event),
        created_at=event.occurred_at,
        updated_at=now,
    )
    reason = (
        "it names another tenant than the task's"
        if _tenant(event) != base.tenant
        else (suspect or {}).get(event.event_id)
    )
    if reason is not None:
        flag = EventFlag(event_id=event.event_id, type=event.type, reason=reason)
        return base.model_copy(
            update={
                "flags": [*base.flags, flag],
                "applied_events": [*base.applied_events, event.event_id],
                "revision": base.revision + 1,
                "updated_at": now,
            }
        )
    changes = _APPLY[type(event)](base, event)
    if trace_id and (base.trace_id is None or isinstance(event, TaskSubmitted)):
        changes["trace_id"] = trace_id
    changes |= {
        "applied_events": [*base.applied_events, event.event_id],
        "revision": base.revision + 1,
        "updated_at": now,
    }
    if not isinstance(event, DeadLettered):
        changes["iteration"] = max(base.iteration, event.iteration)
    return _with_progress(base.model_copy(update=changes))


def fold(events: Iterable[TracedEvent], *, now: datetime) -> TaskState | None:
    """The state of a task from all of its events, applied in time order so that the result is one and the
    same for whoever computes it (the first of two different endings wins, by time)."""
    stored = list(events)
    seen = [event for event, _ in stored]
    owner = owner_tenant(seen)
    suspect = suspect_endings(seen, owner)
    state = None
    for event, trace_id in sorted(stored, key=lambda e: (e[0].occurred_at, e[0].event_id)):
        state = project(state, event, trace_id=trace_id, now=now, owner=owner, suspect=suspect) or state
    return state


def owner_tenant(stored: Sequence[ProjectedEvent]) -> str | None:
    """The tenant of the first submission in `stored` (events in the order they were stored), else of the
    first event: the pipeline's own events of a task all name its submitter's tenant."""
    first = next((e for e in stored if isinstance(e, TaskSubmitted)), None) or next(iter(stored), None)
    return _tenant(first) if first is not None else None


def suspect_endings(events: Sequence[ProjectedEvent], owner: str | None) -> dict[str, str]:
    """The task.finished events, by id, that do not follow the task's lifecycle, and why: every ending
    follows the task's submission, and a success follows an approval of the same iteration and result.
    Over the set of events, not their order, since the topics are read in no set order."""
    mine = [e for e in events if _tenant(e) == owner]
    submitted = any(isinstance(e, TaskSubmitted) for e in mine)
    approved = [
        (e.iteration, e.final_result)
        for e in mine
        if isinstance(e, ReviewCompleted) and e.verdict is Verdict.APPROVED
    ]
    suspect = {}
    for ev in mine:
        if not isinstance(ev, TaskFinished):
            continue
        if not submitted:
            suspect[ev.event_id] = "a task.finished for a task whose submission was never seen"
        elif ev.status is FinalStatus.SUCCEEDED and (ev.iteration, ev.result) not in approved:
            suspect[ev.event_id] = (
                f"a success (by {ev.finished_by or 'an unnamed service'}) that matches no approving review of "
                f"iteration {ev.iteration} and its result"
            )
    return suspect


def _tenant(event: ProjectedEvent) -> str:
    return event.tenant or "default"


def _submitted(state: TaskState, ev: TaskSubmitted) -> dict[str, Any]:
    return {
        "description": ev.request.description,
        "constraints": ev.request.constraints,
        "created_at": ev.occurred_at,
        **_advance(state, ev.iteration, _SUBMITTED, TaskStatus.SUBMITTED),
    }


def _plan_created(state: TaskState, ev: PlanCreated) -> dict[str, Any]:
    feedback = {"plan_feedback": ev.revision_feedback} if ev.iteration >= state.plan_iteration else {}
    return {
        **_request(state, ev),
        **_plan(state, ev),
        **feedback,
        "usage": state.usage + ev.usage,
        **_advance(state, ev.iteration, _PLANNED, TaskStatus.EXECUTING),
    }


def _awaiting_approval(state: TaskState, ev: PlanAwaitingApproval) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if state.approval is None or ev.iteration >= state.approval.iteration:
        changes["approval"] = ApprovalState(
            iteration=ev.iteration,
            plan_hash=ev.plan_hash,
            reasons=ev.reasons,
            expires_at=ev.expires_at,
            approver_roles=ev.approver_roles,
        )
    return changes | _advance(state, ev.iteration, _AWAITING, TaskStatus.AWAITING_APPROVAL)


def _approval_decided(state: TaskState, ev: ApprovalDecided) -> dict[str, Any]:
    decision = DecisionState(
        iteration=ev.iteration,
        plan_hash=ev.plan_hash,
        decision=ev.decision,
        decided_by=ev.decided_by,
        role=ev.role,
        comment=ev.comment,
        decided_at=ev.occurred_at,
    )
    changes: dict[str, Any] = {"decisions": sorted([*state.decisions, decision], key=lambda d: d.decided_at)}
    if ev.decision is ApprovalDecision.APPROVE:
        return changes | _advance(state, ev.iteration, _DECIDED, TaskStatus.EXECUTING)
    return changes  # the task's end follows


def _step_progressed(state: TaskState, ev: StepProgressed) -> dict[str, Any]:
    if ev.iteration < state.steps_iteration:
        return {}
    steps = dict(state.steps) if ev.iteration == state.steps_iteration else {}
    phase = 2 if ev.phase is StepPhase.FINISHED else 1
    old = steps.get(ev.step_id)
    if old is None or phase >= old.phase:
        steps[ev.step_id] = StepState(
            step_id=ev.step_id,
            tool=ev.tool,
            status=ev.status.value if ev.status else ("finished" if phase == 2 else "running"),
            phase=phase,
            output_summary=ev.output_summary,
            error=ev.error,
            duration_ms=ev.duration_ms,
        )
    total = (
        max(state.steps_total, ev.steps_total) if ev.iteration == state.steps_iteration else ev.steps_total
    )
    return {
        "steps": steps,
        "steps_iteration": ev.iteration,
        "steps_total": total,
        **_advance(state, ev.iteration, _EXECUTING, TaskStatus.EXECUTING),
    }


def _execution_completed(state: TaskState, ev: ExecutionCompleted) -> dict[str, Any]:
    return {
        **_request(state, ev),
        **_plan(state, ev),
        **_results(state, ev),
        "usage": state.usage + ev.usage,
        **_advance(state, ev.iteration, _REVIEWING, TaskStatus.REVIEWING),
    }


def _review_completed(state: TaskState, ev: ReviewCompleted) -> dict[str, Any]:
    changes: dict[str, Any] = {**_request(state, ev), **_plan(state, ev), **_results(state, ev)}
    changes["usage"] = state.usage + ev.usage
    if state.review is None or ev.iteration >= state.review.iteration:
        changes["review"] = ReviewState(
            iteration=ev.iteration,
            verdict=ev.verdict,
            feedback=ev.feedback,
            reviewer=ev.reviewer,
            findings=ev.findings,
            citations=ev.citations,
            overruled=ev.overruled,
        )
        if ev.verdict is Verdict.APPROVED and not state.terminal:
            changes["result"] = ev.final_result
    if ev.verdict is Verdict.REVISE:
        return changes | _advance(state, ev.iteration + 1, _PLANNING, TaskStatus.PLANNING)
    return changes | _advance(state, ev.iteration, _REVIEWED, TaskStatus.REVIEWING)


def _finished(state: TaskState, ev: TaskFinished) -> dict[str, Any]:
    if state.terminal:
        return {}
    changes: dict[str, Any] = {
        "status": TaskStatus(ev.status.value),
        "reason": ev.reason,
        "finished_by": ev.finished_by,
    }
    if ev.result is not None:
        changes["result"] = ev.result
    return changes


def _cancel_requested(state: TaskState, ev: CancelRequested) -> dict[str, Any]:
    # The pipeline decides when the task actually stops; it then publishes task.finished(cancelled).
    return {} if state.terminal else {"cancel_requested": True}


def _dead_lettered(state: TaskState, ev: DeadLettered) -> dict[str, Any]:
    if state.terminal:
        return {}
    return {"status": TaskStatus.REJECTED, "reason": f"refused by {ev.consumer}: {ev.reason}"}


def _advance(state: TaskState, iteration: int, rank: int, status: TaskStatus) -> dict[str, Any]:
    if state.terminal or (iteration, rank) < state.status_key:
        return {}
    return {"status": status, "status_key": (iteration, rank)}


def _request(state: TaskState, ev: PlanCreated | ExecutionCompleted | ReviewCompleted) -> dict[str, Any]:
    """Tasks published straight to Kafka may show up first through a later event: take the request from
    its context."""
    if state.description:
        return {}
    return {"description": ev.context.request.description, "constraints": ev.context.request.constraints}


def _plan(state: TaskState, ev: PlanCreated | ExecutionCompleted | ReviewCompleted) -> dict[str, Any]:
    if ev.iteration < state.plan_iteration:
        return {}
    changes: dict[str, Any] = {"plan": ev.plan, "plan_iteration": ev.iteration}
    if ev.iteration >= state.steps_iteration:
        known = state.steps if ev.iteration == state.steps_iteration else {}
        steps = {s.id: known.get(s.id) or StepState(step_id=s.id, tool=s.tool) for s in ev.plan.steps}
        changes |= {"steps": steps | known, "steps_iteration": ev.iteration}
        if ev.iteration > state.steps_iteration:
            changes["steps_total"] = len(ev.plan.steps)
    return changes


def _results(state: TaskState, ev: ExecutionCompleted | ReviewCompleted) -> dict[str, Any]:
    if ev.iteration < state.results_iteration:
        return {}
    changes: dict[str, Any] = {"results": ev.results, "results_iteration": ev.iteration}
    if ev.iteration >= state.steps_iteration:
        known = state.steps if ev.iteration == state.steps_iteration else {}
        finished = {
            r.step_id: StepState(
                step_id=r.step_id,
                tool=r.tool,
                status=r.status.value,
                phase=3,
                output_summary=r.output_summary,
                error=r.error,
                duration_ms=r.duration_ms,
            )
            for r in ev.results
        }
        changes |= {"steps": known | finished, "steps_iteration": ev.iteration}
    return changes


def _with_progress(state: TaskState) -> TaskState:
    steps = list(state.steps.values())
    total = max(state.steps_total, len(steps))
    done = sum(1 for s in steps if s.phase >= 2)
    progress = 1.0 if state.status is TaskStatus.SUCCEEDED else (done / total if total else 0.0)
    running = [s.step_id for s in steps if s.phase == 1]
    current = None if state.terminal or not running else running[0]
    return state.model_copy(update={"progress": min(progress, 1.0), "current_step": current})


_APPLY: dict[type, Callable[[TaskState, Any], dict[str, Any]]] = {
    TaskSubmitted: _submitted,
    PlanCreated: _plan_created,
    StepProgressed: _step_progressed,
    ExecutionCompleted: _execution_completed,
    ReviewCompleted: _review_completed,
    TaskFinished: _finished,
    CancelRequested: _cancel_requested,
    DeadLettered: _dead_lettered,
    PlanAwaitingApproval: _awaiting_approval,
    ApprovalDecided: _approval_decided,
}


def log_entry(event: ProjectedEvent, flag: EventFlag | None = None) -> LogEntry | None:
    """A short human line for the task's log, or None for a dead letter no task can be named for. A flagged
    event is shown as ignored, under the task's tenant, and none of its own words."""
    if event.task_id is None:
        return None
    level, message = ("warning", f"ignored a {event.type}: {flag.reason}") if flag else _describe(event)
    return LogEntry(
        event_id=event.event_id,
        task_id=event.task_id,
        tenant=_tenant(event),
        time=event.occurred_at,
        level=level,
        type=event.type,
        iteration=getattr(event, "iteration", 0),
        message=message,
    )


def _describe(ev: ProjectedEvent) -> tuple[str, str]:
    match ev:
        case TaskSubmitted():
            return "info", f"submitted: {_short(ev.request.description)}"
        case PlanCreated():
            kind = "revised plan" if ev.revision_feedback else "plan"
            return "info", f"{kind} with {len(ev.plan.steps)} steps by {ev.planner or 'planner'}"
        case StepProgressed(phase=StepPhase.STARTED):
            return "info", f"step {ev.step_id} ({ev.tool}) started"
        case StepProgressed():
            status = ev.status.value if ev.status else "finished"
            error = f": {_short(ev.error)}" if ev.error else ""
            return ("info" if status == "succeeded" else "warning"), (
                f"step {ev.step_id} ({ev.tool}) {status} in {ev.duration_ms} ms{error}"
            )
        case ExecutionCompleted():
            ok = sum(1 for r in ev.results if r.status.value == "succeeded")
            return "info", f"execution completed: {ok}/{len(ev.results)} steps succeeded"
        case ReviewCompleted():
            feedback = f": {_short(ev.feedback)}" if ev.feedback else ""
            return ("info" if ev.verdict is Verdict.APPROVED else "warning"), f"review {ev.verdict}{feedback}"
        case TaskFinished():
            reason = f": {_short(ev.reason)}" if ev.reason else ""
            return ("info" if ev.status.value == "succeeded" else "error"), f"finished {ev.status}{reason}"
        case CancelRequested():
            return "warning", f"cancel requested: {_short(ev.reason)}"
        case DeadLettered():
            return "error", f"rejected by {ev.consumer}: {_short(ev.reason)}"
        case PlanAwaitingApproval():
            return "warning", f"plan awaits approval: {_short('; '.join(ev.reasons))}"
        case ApprovalDecided():
            comment = f": {_short(ev.comment)}" if ev.comment else ""
            return "info", f"approval {ev.decision} by {ev.decided_by}{comment}"
    raise AssertionError(f"unhandled event {ev!r}")  # pragma: no cover


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
