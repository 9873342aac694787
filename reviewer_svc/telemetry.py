"""The review span: what the verifiers found and what the verdict cites, beside the reviewer's LLM call."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace

from schemas import ExecutionCompleted, Finding, FindingStatus, ReviewCompleted

__all__ = ["record_findings", "record_review", "review_span"]

_tracer = trace.get_tracer("troupe.reviewer")


@contextmanager
def review_span(event: ExecutionCompleted) -> Iterator[trace.Span]:
    with _tracer.start_as_current_span(
        "review", attributes={"troupe.task_id": event.task_id, "troupe.iteration": event.iteration}
    ) as span:
        yield span


def record_findings(span: trace.Span, findings: Sequence[Finding]) -> None:
    """One span event per finding, with the evidence it used as JSON."""
    for f in findings:
        span.add_event(
            "verifier.finding",
            {
                "troupe.finding.id": f.id,
                "troupe.finding.step_id": f.step_id,
                "troupe.finding.tool": f.tool,
                "troupe.finding.check": f.check,
                "troupe.finding.status": f.status.value,
                "troupe.finding.detail": f.detail,
                "troupe.finding.evidence": json.dumps(f.evidence, default=str)[:4_000],
            },
        )
    span.set_attribute(
        "troupe.review.findings_failed", sum(f.status is not FindingStatus.OK for f in findings)
    )
    span.set_attribute("troupe.review.findings", len(findings))


def record_review(span: trace.Span, review: ReviewCompleted) -> None:
    span.set_attributes(
        {
            "troupe.review.verdict": review.verdict.value,
            "troupe.review.reviewer": review.reviewer,
            "troupe.review.citations": list(review.citations),
        }
    )
    if review.overruled is not None:
        span.set_attribute("troupe.review.overruled", review.overruled[:4_000])
