"""The executor's step runner and handler with fake tools."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pydantic import JsonValue

from executor_svc.deps import ExecutorDeps
from executor_svc.execute_plan import execute_plan
from executor_svc.result_size import HEADROOM_BYTES
from executor_svc.running_tasks import RunningTasks
from executor_svc.step_runner import StepFailed, ToolRunner, run_steps
from executor_svc.stop_steps import stop_steps
from executor_svc.toolbox_runner import ToolboxRunner
from schemas import (
    CancelRequested,
    ExecutionCompleted,
    FinalStatus,
    Plan,
    PlanStep,
    StepPhase,
    StepProgressed,
    StepResult,
    StepStatus,
    TaskFinished,
    encode_event,
)
from tests.unit.pipeline.fakes import recorded_plan
from toolbox import Registry, ToolContext, ToolSettings, ToolTimeout, build_registry
from troupe.artefacts import TEXT, InMemoryArtefacts
from troupe.ledger import InMemoryLedger
from troupe.publishing import RecordingPublisher


class FakeTools:
    """Echoes its arguments; `fail` names steps' expressions that fail; `delay` slows every call."""

    def __init__(self, fail: set[str] | None = None, delay: float = 0.0) -> None:
        self.fail = fail or set()
        self.delay = delay
        self.calls: list[Mapping[str, JsonValue]] = []
        self.running = 0
        self.most_at_once = 0

    async def run(self, tool: str, args: Mapping[str, JsonValue]) -> JsonValue:
        self.calls.append(args)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            if args.get("expression") in self.fail:
                raise StepFailed(f"math: cannot evaluate {args['expression']}")
            return {"value": args.get("expression")}
        finally:
            self.running -= 1


def step(step_id: str, *deps: str, expression: str | None = None) -> PlanStep:
    return PlanStep(
        id=step_id, tool="math", args={"expression": expression or step_id}, depends_on=list(deps)
    )


async def no_progress(step: PlanStep, result: StepResult | None) -> None:
    return None


async def test_independent_steps_run_concurrently_within_the_bound() -> None:
    tools = FakeTools(delay=0.05)
    plan = Plan(steps=[step(f"s{i}") for i in range(6)])
    results = await run_steps(plan, tools, no_progress, max_parallel=3)
    assert [r.status for r in results] == [StepStatus.SUCCEEDED] * 6
    assert tools.most_at_once == 3


async def test_a_failed_step_is_a_result_and_its_dependents_are_skipped() -> None:
    plan = Plan(steps=[step("a"), step("b", "a"), step("c")])
    results = await run_steps(plan, FakeTools(fail={"a"}), no_progress)
    assert [(r.step_id, r.status) for r in results] == [
        ("a", StepStatus.FAILED),
        ("b", StepStatus.SKIPPED),
        ("c", StepStatus.SUCCEEDED),
    ]
    assert results[0].error == "math: cannot evaluate a"
    assert results[1].error == "skipped: depends on a, which did not succeed"


async def test_a_step_can_use_an_earlier_steps_output() -> None:
    tools = FakeTools()
    plan = Plan(
        steps=[step("a", expression="6*7"), step("b", "a", expression="{{steps.a.output.value}} + 1")]
    )
    await run_steps(plan, tools, no_progress)
    assert tools.calls[1] == {"expression": "6*7 + 1"}


TOOLS = {spec.name: spec for spec in build_registry(ToolSettings(), entry_points=False).specs()}


def deps_with(tools: ToolRunner) -> tuple[ExecutorDeps, RecordingPublisher]:
    publisher = RecordingPublisher()
    deps = ExecutorDeps(
        InMemoryLedger(), publisher, lambda *_: tools, TOOLS, InMemoryArtefacts(), running=RunningTasks()
    )
    return deps, publisher


async def test_execution_reports_each_step_then_all_results() -> None:
    deps, published = deps_with(FakeTools())
    await execute_plan(await recorded_plan(deps.ledger, Plan(steps=[step("a"), step("b", "a")])), deps)
    progress = published.of_type(StepProgressed)
    assert [(p.step_id, p.phase, p.steps_done) for p in progress] == [
        ("a", StepPhase.STARTED, 0),
        ("a", StepPhase.FINISHED, 1),
        ("b", StepPhase.STARTED, 1),
        ("b", StepPhase.FINISHED, 2),
    ]
    [completed] = published.of_type(ExecutionCompleted)
    assert [r.output for r in completed.results] == [{"value": "a"}, {"value": "b"}]


async def test_a_redelivered_plan_is_not_executed_twice() -> None:
    tools = FakeTools()
    deps, published = deps_with(tools)
    event = await recorded_plan(deps.ledger, Plan(steps=[step("a")]))
    await execute_plan(event, deps)
    await execute_plan(event, deps)
    assert len(tools.calls) == 1
    first, again = published.of_type(ExecutionCompleted)
    assert first == again


async def test_a_plan_past_its_deadline_ends_the_task_timed_out() -> None:
    deps, published = deps_with(FakeTools())
    await execute_plan(await recorded_plan(deps.ledger, Plan(steps=[step("a")]), expired=True), deps)
    [finished] = published.of_type(TaskFinished)
    assert finished.status is FinalStatus.TIMED_OUT


async def test_cancel_stops_running_steps_and_publishes_no_results() -> None:
    deps, published = deps_with(FakeTools(delay=30))
    event = await recorded_plan(deps.ledger, Plan(steps=[step("a")]))
    execution = asyncio.create_task(execute_plan(event, deps))
    await asyncio.sleep(0.05)
    await stop_steps(CancelRequested(task_id="t-1", tenant=event.tenant), deps)
    async with asyncio.timeout(2):
        await execution
    assert published.of_type(ExecutionCompleted) == []


async def test_a_stopped_tool_run_keeps_its_partial_output_and_reason() -> None:
    class Stuck:
        spec = build_registry(ToolSettings(), entry_points=False).get("math").spec

        async def run(self, args: object, context: ToolContext) -> object:
            raise ToolTimeout("math: stopped after 1 s", details={"stdout": "partial"})

    runner = ToolboxRunner(Registry([Stuck()]), ToolContext(workspace=Path("/tmp")))
    [result] = await run_steps(Plan(steps=[step("a")]), runner, no_progress)
    assert (result.status, result.error, result.output) == (
        StepStatus.TIMED_OUT,
        "math: stopped after 1 s",
        {"stdout": "partial"},
    )


class SizedOutputs(FakeTools):
    """Answers each step with text of the length its expression names ("900000" -> 900,000 characters)."""

    async def run(self, tool: str, args: Mapping[str, JsonValue]) -> JsonValue:
        self.calls.append(args)
        return "x" * int(str(args["expression"]))


def sized_plan(*sizes: int) -> Plan:
    return Plan(steps=[step(f"s{i}", expression=str(size)) for i, size in enumerate(sizes)])


async def test_outputs_over_the_threshold_are_kept_as_artefacts_and_the_event_carries_references() -> None:
    deps, published = deps_with(SizedOutputs())
    await execute_plan(await recorded_plan(deps.ledger, sized_plan(900_000, 1_500_000, 10)), deps)
    [completed] = published.of_type(ExecutionCompleted)
    assert len(encode_event(completed)) < 64 * 1024
    big, bigger, small = completed.results
    assert small.output == "x" * 10 and small.artefact is None
    for result, size in ((big, 900_000), (bigger, 1_500_000)):
        assert result.output is None and result.artefact is not None
        assert (result.artefact.size, result.artefact.media_type) == (size, TEXT)
        assert result.artefact.preview == "x" * 500
        assert await deps.artefacts.get("acme", result.artefact.id) == b"x" * size
        assert result.status is StepStatus.SUCCEEDED


async def test_a_redelivered_execution_stores_each_output_once_under_the_same_id() -> None:
    artefacts = InMemoryArtefacts()
    deps, published = deps_with(SizedOutputs())
    deps = replace(deps, artefacts=artefacts)
    event = await recorded_plan(deps.ledger, sized_plan(100_000))
    await execute_plan(event, deps)
    again, republished = deps_with(SizedOutputs())  # a fresh process: the stage was never recorded
    again = replace(again, artefacts=artefacts)
    await execute_plan(await recorded_plan(again.ledger, sized_plan(100_000)), again)
    [first] = published.of_type(ExecutionCompleted)
    [second] = republished.of_type(ExecutionCompleted)
    assert first.results[0].artefact == second.results[0].artefact
    assert len(artefacts.stored) == 1


async def test_outputs_under_the_threshold_still_go_to_the_store_largest_first_when_the_event_would_not_fit() -> (
    None
):
    deps, published = deps_with(SizedOutputs())
    deps = replace(deps, artefact_threshold_bytes=600_000)
    await execute_plan(await recorded_plan(deps.ledger, sized_plan(450_000, 500_000, 10)), deps)
    [completed] = published.of_type(ExecutionCompleted)
    assert len(encode_event(completed)) <= deps.max_event_bytes - HEADROOM_BYTES
    a, b, c = completed.results
    assert b.artefact is not None and b.output is None  # the largest alone was enough
    assert a.output == "x" * 450_000 and c.output == "x" * 10
