"""What a verdict means for the task: the pure rule the reviewer (and the planner, for revisions) follow."""

from __future__ import annotations

from schemas import FinalStatus, Verdict

__all__ = ["outcome_of"]


def outcome_of(verdict: Verdict, iteration: int, max_iterations: int) -> FinalStatus | None:
    """The task's final status, or None when it goes back to the planner for another iteration."""
    if verdict is Verdict.APPROVED:
        return FinalStatus.SUCCEEDED
    if verdict is Verdict.FAILED:
        return FinalStatus.FAILED
    return FinalStatus.BUDGET_EXHAUSTED if iteration >= max_iterations else None
