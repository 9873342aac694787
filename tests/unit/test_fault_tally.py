"""The fault runs' figures: how accepted tasks are counted lost, stuck or duplicated, the kill schedule, and
which worker a task waits on when a kill is aimed at load."""

from __future__ import annotations

from collections import Counter

from schemas import (
    Envelope,
    ExecutionCompleted,
    FinalStatus,
    PlanCreated,
    ReviewCompleted,
    TaskFinished,
    TaskRequest,
    TaskSubmitted,
    Verdict,
)
from tests.faults.busy_kills import busiest
from tests.faults.kill_schedule import kill_schedule
from tests.faults.tally import repeated_events, tally
from tests.faults.waiting_on import waiting_on
from tests.unit.pipeline.fakes import context, math_plan


def submitted(task_id: str) -> TaskSubmitted:
    return TaskSubmitted(task_id=task_id, request=TaskRequest(description="x"))


def planned(task_id: str, iteration: int = 1) -> PlanCreated:
    return PlanCreated(task_id=task_id, iteration=iteration, context=context(), plan=math_plan("1"))


def executed(task_id: str, iteration: int = 1) -> ExecutionCompleted:
    return ExecutionCompleted(
        task_id=task_id, iteration=iteration, context=context(), plan=math_plan("1"), results=[]
    )


def reviewed(task_id: str, iteration: int = 1) -> ReviewCompleted:
    return ReviewCompleted(
        task_id=task_id,
        iteration=iteration,
        context=context(),
        plan=math_plan("1"),
        results=[],
        verdict=Verdict.REVISE,
    )


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


def test_a_task_waits_on_the_worker_that_consumes_its_furthest_event_not_its_last_heard() -> None:
    events: dict[str, list[Envelope]] = {
        "new": [submitted("new")],
        "planned": [submitted("planned"), planned("planned")],
        # A plan redone after a kill, heard again after the execution it led to.
        "executed": [submitted("executed"), planned("executed"), executed("executed"), planned("executed")],
        "revising": [submitted("revising"), planned("revising"), executed("revising"), reviewed("revising")],
        "replanned": [reviewed("replanned"), planned("replanned", iteration=2)],
        "ended": [submitted("ended"), planned("ended"), finished("ended")],
    }
    assert waiting_on([*events, "never-seen"], events) == {
        "planner_svc": 2,
        "executor_svc": 2,
        "reviewer_svc": 1,
    }


def test_a_kill_aimed_at_load_takes_the_least_killed_busy_worker_never_the_last_one_again() -> None:
    waiting = {"planner_svc": 300, "executor_svc": 120, "reviewer_svc": 5}
    assert busiest(waiting, {}, at_least=100) == "planner_svc"
    assert busiest(waiting, {"planner_svc": 1}, at_least=100) == "executor_svc"
    assert busiest(waiting, {}, at_least=100, last="planner_svc") == "executor_svc"
    assert busiest(waiting, {}, at_least=100, last="executor_svc") == "planner_svc"
    assert busiest({"planner_svc": 300}, {}, at_least=100, last="planner_svc") is None
    assert busiest(waiting, {}, at_least=400) is None
