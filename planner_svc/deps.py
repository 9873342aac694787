"""What the planner's handlers need, named; app.py builds the real ones, tests hand in fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from planner_svc.plan_writer import PlanWriter
from schemas import TaskRequest
from toolbox import ToolSpec
from troupe.artefacts import ArtefactStore
from troupe.ledger import Ledger
from troupe.policy_store import InMemoryPolicyStore, PolicyStore
from troupe.publishing import EventPublisher

__all__ = ["PlannerDeps"]

SERVICE = "planner"


@dataclass(frozen=True)
class PlannerDeps:
    ledger: Ledger
    publisher: EventPublisher
    writer: PlanWriter
    tools: dict[str, ToolSpec]
    # Where outputs too large for an event are kept; a revision is written from excerpts of them.
    artefacts: ArtefactStore
    excerpt_max_chars: int = 8_000
    # Each tenant's policy, read by the event's tenant; the default store holds none (nothing narrowed).
    policies: PolicyStore = field(default_factory=InMemoryPolicyStore)
    # Why a submitted task cannot run as asked (the gateway checks too; this catches tasks sent to Kafka).
    refusal: Callable[[TaskRequest], str | None] = lambda request: None
