"""The task projection: what a task looks like after any sequence, order or repetition of its events."""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest

from gateway_svc.projection import ProjectedEvent, fold, log_entry, project, read_event, trace_id_from
from gateway_svc.task_state import TaskState, TaskStatus
from schemas import (
    CancelRequested,
    FinalStatus,
    StepPhase,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Verdict,
    encode_event,
)

from .events import PLAN, T0, at, dead_letter, happy_path, review, step

NOW = at(100)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def run(events: Iterable[ProjectedEvent], state: TaskState | None = None) -> TaskState | None:
    for event in events:
        state = project(state, event, trace_id=None, now=NOW) or state
    return state


def comparable(state: TaskState | None) -> dict[str, object]:
    assert state is not None
    return state.model_dump(exclude={"applied_events", "revision", "updated_at", "status_key"})


def test_happy_path_builds_the_finished_task() -> None:
    state = run(happy_path())
    assert state is not None
    assert (state.task_id, state.tenant, state.status) == ("t1", "acme", TaskStatus.SUCCEEDED)
    assert state.description == "evaluate 2**10"
    assert state.plan == PLAN
    assert state.iteration == 1
    assert state.progress == 1.0
    assert state.current_step is None
    assert {s.step_id: s.status for s in state.steps.values()} == {"a": "succeeded", "b": "succeeded"}
    assert state.review is not None and state.review.verdict is Verdict.APPROVED
    assert state.result == 1024
    assert state.usage.llm_calls == 3
    assert state.created_at == T0
    assert state.revision == len(happy_path())


def test_status_and_progress_follow_the_stages() -> None:
    events = happy_path()
    seen = []
    state = None
    for event in events:
        state = project(state, event, trace_id=None, now=NOW)
        assert state is not None
        seen.append((state.status.value, state.current_step, state.progress))
    assert seen == [
        ("submitted", None, 0.0),
        ("executing", None, 0.0),
        ("executing", "a", 0.0),
        ("executing", None, 0.5),
        ("executing", "b", 0.5),
        ("executing", None, 1.0),
        ("reviewing", None, 1.0),
        ("reviewing", None, 1.0),
        ("succeeded", None, 1.0),
    ]


def test_a_duplicate_event_changes_nothing() -> None:
    events = happy_path()
    state = run(events[:4])
    assert state is not None
    for event in events[:4]:
        assert project(state, event, trace_id=None, now=NOW) is None


def test_usage_counts_each_event_once_however_often_delivered() -> None:
    events = happy_path()
    state = run(events + events + events[1:2])
    assert state is not None
    assert state.usage.llm_calls == 3
    assert state.usage.tokens_in == 300
    assert state.usage.cost_usd == pytest.approx(0.03)


@pytest.mark.parametrize("seed", range(12))
def test_any_delivery_order_ends_in_the_same_state(seed: int) -> None:
    events = happy_path()
    shuffled = random.Random(seed).sample(events, len(events))
    assert comparable(run(shuffled)) == comparable(run(events))


def test_a_late_older_event_does_not_move_the_task_backwards() -> None:
    events = happy_path()
    submitted, plan = events[0], events[1]
    state = run([plan, events[6]])  # executing, then reviewing
    state = run([submitted, plan, events[2]], state)
    assert state is not None
    assert state.status is TaskStatus.REVIEWING
    assert state.steps["a"].status == "succeeded"


def test_a_terminal_status_never_changes() -> None:
    finished = TaskFinished(task_id="t1", tenant="acme", status=FinalStatus.CANCELLED, reason="asked")
    state = run([finished, *happy_path()])
    assert state is not None
    assert state.status is TaskStatus.CANCELLED
    assert state.reason == "asked"
    assert state.result is None
    rejected = run([dead_letter("t1")], state)
    assert rejected is not None and rejected.status is TaskStatus.CANCELLED


def test_a_revision_opens_the_next_iteration_and_resets_its_steps() -> None:
    first = happy_path()[:7]
    revise = review("t1", "acme", Verdict.REVISE, 1, at(7))
    state = run([*first, revise])
    assert state is not None
    assert (state.status, state.iteration) == (TaskStatus.PLANNING, 1)
    started = step("t1", "acme", "a", StepPhase.STARTED, 0, at(9), iteration=2)
    state = run([started], state)
    assert state is not None
    assert (state.status, state.iteration) == (TaskStatus.EXECUTING, 2)
    assert list(state.steps) == ["a"]
    assert state.progress == 0.0
    late_old_step = step("t1", "acme", "b", StepPhase.FINISHED, 2, at(5))
    state = run([late_old_step], state)
    assert state is not None and list(state.steps) == ["a"]


def test_a_task_published_straight_to_kafka_is_created_from_any_first_event() -> None:
    plan_first = happy_path("direct", "default")[1]
    state = run([plan_first])
    assert state is not None
    assert (state.task_id, state.tenant, state.status) == ("direct", "default", TaskStatus.EXECUTING)
    assert state.description == "evaluate 2**10"


def test_dead_letter_with_a_task_id_rejects_the_task_with_the_reason() -> None:
    state = run([*happy_path()[:2], dead_letter("t1")])
    assert state is not None
    assert state.status is TaskStatus.REJECTED
    assert state.reason is not None and "plan: Field required" in state.reason
    assert state.reason.startswith("refused by troupe-executor")


def test_dead_letter_for_an_unseen_task_creates_it_rejected() -> None:
    state = run([dead_letter("ghost", tenant=None)])
    assert state is not None
    assert (state.tenant, state.status) == ("default", TaskStatus.REJECTED)


def test_dead_letter_without_a_task_id_is_ignored() -> None:
    assert project(None, dead_letter(None), trace_id=None, now=NOW) is None
    assert log_entry(dead_letter(None)) is None


def test_cancel_request_is_recorded_without_ending_the_task() -> None:
    state = run([happy_path()[0], CancelRequested(task_id="t1", tenant="acme")])
    assert state is not None
    assert state.cancel_requested
    assert state.status is TaskStatus.SUBMITTED


def test_trace_id_comes_from_the_submission_when_known() -> None:
    events = happy_path()
    state = project(None, events[1], trace_id="1" * 32, now=NOW)
    state = project(state, events[0], trace_id=TRACE, now=NOW)
    state = project(state, events[2], trace_id="2" * 32, now=NOW)
    assert state is not None and state.trace_id == TRACE


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"00-{TRACE}-00f067aa0ba902b7-01", TRACE),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),
        ("00-abc-def-01", None),
        (None, None),
    ],
)
def test_trace_id_is_read_from_a_w3c_traceparent(header: str | None, expected: str | None) -> None:
    assert trace_id_from(header) == expected


def test_read_event_reads_task_events_and_dead_letters_and_skips_garbage() -> None:
    event = TaskSubmitted(task_id="t1", request=TaskRequest(description="hi"))
    assert read_event(encode_event(event)) == event
    letter = dead_letter("t1")
    read = read_event(letter.model_dump_json().encode())
    assert read is not None and read.model_dump(mode="json") == letter.model_dump(mode="json")
    assert read_event(b"not json") is None
    assert read_event(b'{"type": "task.submitted", "task_id": "x"}') is None


def test_every_event_has_a_short_log_line() -> None:
    entries = [log_entry(e) for e in [*happy_path(), dead_letter("t1")]]
    assert all(e is not None and e.message and e.task_id == "t1" for e in entries)
    assert [e.type for e in entries if e] == [e.type for e in [*happy_path(), dead_letter("t1")]]
    assert entries[-1] is not None and entries[-1].level == "error"
    assert entries[0] is not None and entries[0].message == "submitted: evaluate 2**10"


@pytest.mark.parametrize("seed", range(5))
def test_folding_a_tasks_events_gives_one_state_whatever_order_they_are_kept_in(seed: int) -> None:
    cancelled = TaskFinished(task_id="t1", tenant="acme", status=FinalStatus.CANCELLED, occurred_at=at(7))
    traced = [(e, TRACE) for e in [*happy_path(), cancelled]]
    shuffled = random.Random(seed).sample(traced, len(traced))
    state = fold(shuffled, now=NOW)
    assert state == fold(traced, now=NOW)
    assert state is not None and state.status is TaskStatus.CANCELLED  # the earlier ending wins
    assert state.trace_id == TRACE


def test_read_event_skips_a_task_event_over_the_limit_but_reads_a_large_dead_letter() -> None:
    event = TaskSubmitted(task_id="t1", request=TaskRequest(description="hi"))
    raw = encode_event(event)
    large = raw[:-1] + b" " * 2_000 + b"}"
    assert read_event(large) == event
    assert read_event(large, max_bytes=1_000) is None  # its consumer dead-letters it
    letter = dead_letter("t1").model_copy(update={"original_base64": "A" * 4_000})
    assert read_event(letter.model_dump_json().encode(), max_bytes=1_000) == letter
