"""The fault runs' figures: how accepted tasks are counted lost, stuck or duplicated, and the kill schedule."""

from __future__ import annotations

from collections import Counter

from schemas import Envelope, FinalStatus, PlanCreated, TaskFinished, TaskRequest, TaskSubmitted
from tests.faults.kill_schedule import kill_schedule
from tests.faults.tally import repeated_events, tally
from tests.unit.pipeline.fakes import context, math_plan


def submitted(task_id: str) -> TaskSubmitted:
    return TaskSubmitted(task_id=task_id, request=TaskRequest(description="x"))


def planned(task_id: str) -> PlanCreated:
    return PlanCreated(task_id=task_id, iteration=1, context=context(), plan=math_plan("1"))


def finished(task_id: str, status: FinalStatus = FinalStatus.SUCCEEDED) -> TaskFinished:
    return TaskFinished(event_id=f"{task_id}-end", task_id=task_id, status=status, finished_by="reviewer")


def test_each_accepted_task_is_counted_by_how_it_ended() -> None:
    end = finished("same")
    events: dict[str, list[Envelope]] = {
        "ok": [submitted("ok"), planned("ok"), finished("ok")],
        "same": [submitted("same"), end, end],
        "dropped": [submitted("dropped")],
        "halfway": [submitted("halfway"), planned("halfway")],
        "late": [submitted("late"), finished("late")],
        "forked": [finished("forked"), finished("forked", FinalStatus.FAILED)],
        "disagrees": [finished("disagrees")],
    }
    projected = {t: "succeeded" for t in events} | {"late": "executing", "disagrees": "cancelled"}
    result = tally([*events, "never-seen"], events, projected)
    assert (result.lost, result.stuck, result.duplicated) == (
        ["dropped", "never-seen"],
        ["halfway", "late"],
        ["forked", "disagrees"],
    )
    assert result.stuck_at == {"halfway": "plan.created", "late": "projection: executing"}
    assert result.repeated_final_events == 1
    assert not result.clean


def test_a_run_where_every_task_ended_once_is_clean() -> None:
    events: dict[str, list[Envelope]] = {t: [submitted(t), finished(t)] for t in ("a", "b")}
    result = tally(["a", "b"], events, {"a": "succeeded", "b": "succeeded"})
    assert result.clean and result.statuses == {"succeeded": 2}
    assert tally(["a", "b"], events, None).clean  # judged by the topics alone


def test_the_kill_schedule_is_seeded_and_takes_turns_among_the_services() -> None:
    services = ["planner", "executor", "reviewer", "gateway"]
    schedule = kill_schedule(8, 12, services)
    assert schedule == kill_schedule(8, 12, services)
    assert schedule != kill_schedule(9, 12, services)
    assert Counter(k.service for k in schedule) == {s: 3 for s in services}
    assert all(0.5 <= k.after_s <= 4.0 and 0.2 <= k.pause_s <= 3.0 for k in schedule)


def test_copies_of_one_event_id_count_as_work_done_again() -> None:
    plan = planned("a")
    events: dict[str, list[Envelope]] = {
        "a": [submitted("a"), plan, plan, plan, finished("a")],
        "b": [finished("b")],
    }
    assert repeated_events(events) == {"plan.created": 2}
