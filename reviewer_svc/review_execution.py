"""On execution completed: verify the outputs, get a verdict grounded in the findings, publish it once, and
end the task when the verdict is final."""

from __future__ import annotations

import asyncio

from reviewer_svc.deps import SERVICE, ReviewerDeps
from reviewer_svc.grounding import grounded
from reviewer_svc.judge import ReviewFailed
from reviewer_svc.outcome import outcome_of
from reviewer_svc.telemetry import record_findings, record_review, review_span
from reviewer_svc.verifiers import verify
from schemas import Envelope, ExecutionCompleted, FinalStatus, ReviewCompleted, TaskFinished
from troupe.artefacts import excerpted, whole_results
from troupe.boundary import differs_from_record, refuse
from troupe.ledger import stage_key
from troupe.policy_gate import narrowed
from troupe.stages import (
    caused_by,
    emit_once,
    emit_with_end,
    ending,
    finish,
    look_up,
    past_deadline,
    replay,
)

__all__ = ["review_execution"]


async def review_execution(event: ExecutionCompleted, deps: ReviewerDeps) -> None:
    key = stage_key("review", event.task_id, event.iteration)
    executed, recorded = await asyncio.gather(
        deps.ledger.find(stage_key("execute", event.task_id, event.iteration)),
        look_up(deps.ledger, event.task_id, key),
    )
    # The verdict and the task's final result come from these results: only the executor's own count.
    if (forged := differs_from_record(event, executed)) is not None:
        refuse(SERVICE, event, forged)
    if recorded.end is not None:
        await replay(deps.publisher, recorded)
        return
    # A recorded review without an end: the process died before ending the task, so it goes on from there.
    review = recorded.output
    if review is None:
        if past_deadline(event.context):
            await finish(
                deps.ledger,
                deps.publisher,
                event,
                FinalStatus.TIMED_OUT,
                by=SERVICE,
                reason="deadline passed before review",
            )
            return
        try:
            judged = await _judged(event, deps)
        except ReviewFailed as exc:
            await finish(deps.ledger, deps.publisher, event, exc.status, by=SERVICE, reason=exc.reason)
            return
        # A fresh review that ends the task is recorded with its end in one round trip; if either was
        # recorded meanwhile, it goes one by one below, from what the ledger holds.
        end = _end_of(judged)
        if end is not None and await emit_with_end(deps.ledger, deps.publisher, key, judged, end):
            return
        review = judged

    async def conclude(stored: Envelope) -> None:
        """End the task if the verdict is final: recorded after the review, published alongside it."""
        assert isinstance(stored, ReviewCompleted)
        if (end := _end_of(stored)) is not None:
            await finish(
                deps.ledger,
                deps.publisher,
                stored,
                end.status,
                by=SERVICE,
                reason=end.reason,
                result=end.result,
            )

    await emit_once(deps.ledger, deps.publisher, key, review, then=conclude)


def _end_of(review: ReviewCompleted) -> TaskFinished | None:
    """The task's end the review decides, or None when the task goes on to another iteration."""
    limit = review.context.request.constraints.max_iterations
    status = outcome_of(review.verdict, review.iteration, limit)
    if status is FinalStatus.SUCCEEDED:
        return ending(review, status, by=SERVICE, result=review.final_result)
    if status is FinalStatus.BUDGET_EXHAUSTED:
        reason = f"still not approved after {limit} iterations; last review: {review.feedback}"
        return ending(review, status, by=SERVICE, reason=reason)
    if status is not None:
        return ending(review, status, by=SERVICE, reason=review.feedback)
    return None


async def _judged(event: ExecutionCompleted, deps: ReviewerDeps) -> ReviewCompleted:
    """The verdict on the whole outputs' excerpts, grounded in what the verifiers found; one span."""
    with review_span(event) as span:
        whole = await whole_results(deps.artefacts, event.tenant, event.results)
        findings = verify(event.plan, whole)
        record_findings(span, findings)
        shown = excerpted(whole, deps.excerpt_max_chars)
        # The tenant's max_cost_usd caps the review's budget too; the published context stays the task's.
        under_policy = narrowed(event.context, await deps.policies.get(event.tenant))
        judgement = grounded(
            await deps.judge.review(
                event.task_id, under_policy, event.plan, shown, findings, tenant=event.tenant
            ),
            findings,
        )
        review = ReviewCompleted(
            **caused_by(event, "review", event.iteration),
            context=event.context.after(judgement.usage),
            plan=event.plan,
            results=event.results,
            verdict=judgement.verdict,
            feedback=judgement.feedback,
            final_result=judgement.final_result,
            reviewer=judgement.author,
            usage=judgement.usage,
            findings=findings,
            citations=list(judgement.citations),
            overruled=judgement.overruled,
        )
        record_review(span, review)
        return review
