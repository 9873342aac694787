"""The gateway's parts behind their interfaces, and the FastAPI dependencies that hand them to routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from gateway_svc.auth import KeyStore
from gateway_svc.idempotency import IdempotencyStore
from gateway_svc.live_events import LiveEvents
from gateway_svc.projection_store import TaskReader
from gateway_svc.rate_limit import RateLimiter
from gateway_svc.recent_keys import RecentKeys
from gateway_svc.settings import GatewaySettings
from schemas import TaskRequest
from troupe.artefacts import ArtefactStore
from troupe.ledger import InMemoryLedger, Ledger
from troupe.policy_store import InMemoryPolicyStore, PolicyStore
from troupe.publishing import EventPublisher

__all__ = ["Components", "LivenessCheck", "Parts", "ReadinessCheck", "SubmissionCheck"]

# name -> "is it reachable?"; each check answers within its own timeout.
ReadinessCheck = Callable[[], Awaitable[dict[str, bool]]]
# name -> "is this part of the process working?": what a restart would fix, answered from memory.
LivenessCheck = Callable[[], dict[str, bool]]


# Why a task cannot be accepted as asked (a cost budget over unpriced models), or None.
SubmissionCheck = Callable[[TaskRequest], str | None]


def _nothing_to_check() -> dict[str, bool]:
    return {}


def _accept_all(request: TaskRequest) -> str | None:
    return None


@dataclass(frozen=True)
class Components:
    settings: GatewaySettings
    keys: KeyStore
    limiter: RateLimiter
    idempotency: IdempotencyStore
    tasks: TaskReader
    publisher: EventPublisher
    live: LiveEvents
    readiness: ReadinessCheck
    artefacts: ArtefactStore
    recent_keys: RecentKeys = field(default_factory=RecentKeys)
    liveness: LivenessCheck = _nothing_to_check
    # The stage ledger: where a person's decision on a waiting plan is recorded, once, before it is published.
    ledger: Ledger = field(default_factory=InMemoryLedger)
    policies: PolicyStore = field(default_factory=InMemoryPolicyStore)
    refusal: SubmissionCheck = _accept_all


def _components(request: Request) -> Components:
    parts: Components = request.app.state.components
    return parts


Parts = Annotated[Components, Depends(_components)]
