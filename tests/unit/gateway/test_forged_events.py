"""Forged events in the projection: a Kafka writer can neither re-tenant a task nor show a fake result.

Ignored events are listed in the task's flags, and its log shows them as ignored.
"""

from __future__ import annotations

from datetime import timedelta

from gateway_svc.projection import fold
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from gateway_svc.task_state import TaskStatus
from gateway_svc.views import task_view
from schemas import FinalStatus, TaskFinished, TaskSubmitted

from .events import REQUEST, at, dead_letter, happy_path

NOW = at(100)


def hijack(when_s: int) -> TaskSubmitted:
    return TaskSubmitted(
        task_id="t1", tenant="mallory", request=REQUEST, event_id="forged-submit", occurred_at=at(when_s)
    )


def fake_success(when_s: float) -> TaskFinished:
    return TaskFinished(
        task_id="t1",
        tenant="acme",
        iteration=1,
        status=FinalStatus.SUCCEEDED,
        result="all your base",
        finished_by="reviewer",
        event_id="forged-finish",
        occurred_at=at(0) + timedelta(seconds=when_s),
    )


async def test_a_forged_submission_from_another_tenant_does_not_take_the_task() -> None:
    store = InMemoryTaskStore()
    projector = Projector(store, clock=lambda: NOW)
    for event in [*happy_path()[:3], hijack(50)]:
        await projector.apply(event)
    assert await store.page("mallory", [], 10, None) == []
    [task] = await store.page("acme", [], 10, None)
    assert task.tenant == "acme" and task.status is TaskStatus.EXECUTING
    assert [(f.event_id, f.type) for f in task.flags] == [("forged-submit", "task.submitted")]
    assert "another tenant" in task.flags[0].reason


def test_a_backdated_forged_submission_stored_after_the_task_does_not_take_it() -> None:
    stored = [(e, None) for e in [*happy_path()[:3], hijack(-3600)]]
    state = fold(stored, now=NOW)
    assert state is not None and state.tenant == "acme"
    assert [f.event_id for f in state.flags] == ["forged-submit"]


def test_a_forged_success_with_a_fake_result_is_ignored_and_flagged() -> None:
    before_review = happy_path()[:7]
    state = fold([(e, None) for e in [*before_review, fake_success(7)]], now=NOW)
    assert state is not None
    assert (state.status, state.result) == (TaskStatus.REVIEWING, None)
    assert [f.type for f in state.flags] == ["task.finished"]
    assert "no approving review" in state.flags[0].reason


def test_a_forged_success_does_not_replace_the_approved_result() -> None:
    # Backdated between the approval and the real ending, it would otherwise be the first ending by time.
    events = [*happy_path(), fake_success(7.5)]
    state = fold([(e, None) for e in events], now=NOW)
    assert state is not None
    assert (state.status, state.result) == (TaskStatus.SUCCEEDED, 1024)
    assert state.finished_by == ""  # the real ending, which names no service in these events
    assert [f.event_id for f in state.flags] == ["forged-finish"]


def test_an_ending_for_a_task_whose_submission_was_never_seen_is_flagged() -> None:
    ending = fake_success(1).model_copy(update={"status": FinalStatus.FAILED, "result": None})
    state = fold([(ending, None)], now=NOW)
    assert state is not None and not state.terminal
    assert "submission was never seen" in state.flags[0].reason


def test_a_dead_letter_naming_another_tenant_does_not_reject_the_task() -> None:
    state = fold([(e, None) for e in [*happy_path()[:3], dead_letter("t1", tenant="mallory")]], now=NOW)
    assert state is not None and state.status is TaskStatus.EXECUTING
    assert [f.type for f in state.flags] == ["event.dead_lettered"]


async def test_the_task_log_and_view_show_an_ignored_event_as_ignored() -> None:
    store = InMemoryTaskStore()
    projector = Projector(store, clock=lambda: NOW)
    for event in [*happy_path()[:7], fake_success(8)]:
        await projector.apply(event)
    entries = {e.event_id: e for e in await store.log_page("t1", 100, None)}
    assert entries["forged-finish"].level == "warning"
    assert entries["forged-finish"].message.startswith("ignored a task.finished:")
    task = await store.load("t1")
    assert task is not None
    assert [f.event_id for f in task_view(task).flags] == ["forged-finish"]
