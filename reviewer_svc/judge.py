"""Where verdicts come from: the LLM router's reviewer role, behind a narrow interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import JsonValue

from schemas import FinalStatus, Finding, Plan, StepResult, TaskContext, Usage, Verdict
from troupe.llm.budget import Budget
from troupe.llm.errors import DeadlineReached, LLMError
from troupe.llm.offline import OutputCheck
from troupe.llm.roles import review_results
from troupe.llm.router import LLMRouter

__all__ = ["FunctionJudge", "Judge", "Judgement", "ReviewFailed", "RouterJudge"]


class ReviewFailed(Exception):
    def __init__(self, reason: str, status: FinalStatus = FinalStatus.FAILED) -> None:
        super().__init__(reason)
        self.reason = reason
        # timed_out when the task's deadline cut the reviewer's chain.
        self.status = status


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    feedback: str
    final_result: JsonValue
    author: str
    usage: Usage
    # Ids of the findings (or steps) the verdict rests on.
    citations: tuple[str, ...] = ()
    # Why the verifiers' findings turned the judge's approval into this verdict, if they did.
    overruled: str | None = None


class Judge(Protocol):
    async def review(
        self,
        task_id: str,
        context: TaskContext,
        plan: Plan,
        results: Sequence[StepResult],
        findings: Sequence[Finding] = (),
        *,
        tenant: str,
    ) -> Judgement: ...


class RouterJudge:
    def __init__(self, router: LLMRouter, output_ok: OutputCheck | None = None) -> None:
        self._router = router
        self._output_ok = output_ok

    async def review(
        self,
        task_id: str,
        context: TaskContext,
        plan: Plan,
        results: Sequence[StepResult],
        findings: Sequence[Finding] = (),
        *,
        tenant: str,
    ) -> Judgement:
        limits = context.request.constraints
        budget = Budget(
            max_tokens=limits.max_llm_tokens, max_cost_usd=limits.max_cost_usd, spent=context.spent
        )
        try:
            answer = await review_results(
                self._router,
                context.request.description,
                plan,
                results,
                output_ok=self._output_ok,
                findings=findings,
                task_id=task_id,
                tenant=tenant,
                deadline=context.deadline,
                budget=budget,
            )
        except DeadlineReached as exc:
            raise ReviewFailed(f"no review: {exc.reason}", FinalStatus.TIMED_OUT) from exc
        except LLMError as exc:
            raise ReviewFailed(f"no review: {exc.reason}") from exc
        review = answer.parsed
        if review is None:  # pragma: no cover - the router always parses when given a schema
            raise ReviewFailed("no review: the reviewer's answer could not be read")
        # Only ids the model was shown count; a model that cites none is taken to rest on every finding.
        shown = {f.id for f in findings} | {step.id for step in plan.steps}
        cited = [c for c in review.citations if c in shown] or [f.id for f in findings]
        return Judgement(
            review.verdict,
            review.feedback,
            review.final_result,
            answer.answered_by,
            answer.usage,
            citations=tuple(dict.fromkeys(cited)),
        )


class FunctionJudge:
    """A fake from a plain function, for tests; the findings it is given are kept in `findings_seen`."""

    def __init__(self, review: Callable[[Plan, Sequence[StepResult]], Awaitable[Judgement]]) -> None:
        self._review = review
        self.findings_seen: list[Sequence[Finding]] = []

    async def review(
        self,
        task_id: str,
        context: TaskContext,
        plan: Plan,
        results: Sequence[StepResult],
        findings: Sequence[Finding] = (),
        *,
        tenant: str,
    ) -> Judgement:
        self.findings_seen.append(findings)
        return await self._review(plan, results)
