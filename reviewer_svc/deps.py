"""What the reviewer's handler needs, named; app.py builds the real ones, tests hand in fakes."""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewer_svc.judge import Judge
from troupe.artefacts import ArtefactStore
from troupe.ledger import Ledger
from troupe.policy_store import InMemoryPolicyStore, PolicyStore
from troupe.publishing import EventPublisher

__all__ = ["SERVICE", "ReviewerDeps"]

SERVICE = "reviewer"


@dataclass(frozen=True)
class ReviewerDeps:
    ledger: Ledger
    publisher: EventPublisher
    judge: Judge
    # Where outputs too large for an event are kept; the judge is given excerpts of every output.
    artefacts: ArtefactStore
    excerpt_max_chars: int = 8_000
    # Each tenant's policy (its max_cost_usd caps the review's budget); the default store holds none.
    policies: PolicyStore = field(default_factory=InMemoryPolicyStore)
