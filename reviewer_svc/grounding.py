"""An approval holds only where the verifiers found nothing wrong, whichever judge gave it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from reviewer_svc.judge import Judgement
from reviewer_svc.verifiers import blocking
from schemas import Finding, Verdict

__all__ = ["grounded"]

_MAX_TEXT = 20_000


def grounded(judgement: Judgement, findings: Sequence[Finding]) -> Judgement:
    """The judgement; or, for an approval that failed or unverifiable findings stand against, a revise
    verdict that says why and cites them, so the next plan can address them."""
    against = blocking(findings)
    if judgement.verdict is not Verdict.APPROVED or not against:
        return judgement
    reason = "approval overruled by the verifiers: " + "; ".join(
        f"{f.id} {f.status.value}: {f.detail}" for f in against
    )
    return replace(
        judgement,
        verdict=Verdict.REVISE,
        feedback=f"{reason}. The reviewer had said: {judgement.feedback}"[:_MAX_TEXT],
        final_result=None,
        citations=tuple(f.id for f in against),
        overruled=reason[:_MAX_TEXT],
    )
