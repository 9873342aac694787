"""Plans are checked for a shape the executor can run before anyone runs them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import Plan, PlanError, PlanStep, execution_order


def _step(step_id: str, *deps: str) -> PlanStep:
    return PlanStep(id=step_id, tool="math", args={"expression": "1+1"}, depends_on=list(deps))


def test_independent_steps_share_the_first_wave() -> None:
    assert execution_order([_step("a"), _step("b"), _step("c", "a", "b")]) == [["a", "b"], ["c"]]


def test_waves_keep_the_plan_order_within_a_wave() -> None:
    steps = [_step("z"), _step("y", "z"), _step("x", "z"), _step("w", "y", "x")]
    assert execution_order(steps) == [["z"], ["y", "x"], ["w"]]


def test_a_cycle_is_refused_naming_its_steps() -> None:
    with pytest.raises(PlanError, match=r"dependency cycle: a, b"):
        execution_order([_step("a", "b"), _step("b", "a"), _step("c")])


def test_a_self_dependency_is_a_cycle() -> None:
    with pytest.raises(PlanError, match=r"dependency cycle: a"):
        execution_order([_step("a", "a")])


def test_an_unknown_dependency_is_refused() -> None:
    with pytest.raises(PlanError, match=r"step 'a' depends on unknown steps: ghost"):
        execution_order([_step("a", "ghost")])


def test_duplicate_step_ids_are_refused() -> None:
    with pytest.raises(PlanError, match=r"duplicate step ids: a"):
        execution_order([_step("a"), _step("a")])


def test_plan_model_validates_its_own_structure() -> None:
    with pytest.raises(ValidationError, match=r"dependency cycle"):
        Plan(steps=[_step("a", "b"), _step("b", "a")])


def test_an_empty_plan_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"at least 1 item"):
        Plan(steps=[])
