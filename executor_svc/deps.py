"""What the executor's handlers need, named; app.py builds the real ones, tests hand in fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from executor_svc.approval_waits import ApprovalWaits, InMemoryApprovalWaits
from executor_svc.running_tasks import RunningTasks
from executor_svc.step_runner import ToolRunner
from schemas import PlanCreated
from schemas.policy import TenantPolicy
from toolbox import Complete, ToolSpec
from troupe.artefacts import ArtefactStore
from troupe.ledger import Ledger
from troupe.llm.router import LLMRouter
from troupe.policy_store import InMemoryPolicyStore, PolicyStore
from troupe.publishing import EventPublisher

__all__ = ["SERVICE", "ExecutorDeps"]

SERVICE = "executor"


@dataclass(frozen=True)
class ExecutorDeps:
    ledger: Ledger
    publisher: EventPublisher
    # Tools are bound per plan: each task gets its own workspace, its tenant's egress allowlist and its own
    # ai_tool model (None: no router).
    tools_for: Callable[[PlanCreated, TenantPolicy, Complete | None], ToolRunner]
    # What each tool accepts: every plan is checked against these before a step runs.
    tools: Mapping[str, ToolSpec]
    # Where outputs too large for an event are kept.
    artefacts: ArtefactStore
    max_parallel_steps: int = 4
    max_event_bytes: int = 1024 * 1024
    running: RunningTasks = field(default_factory=RunningTasks)
    artefact_threshold_bytes: int = 32 * 1024
    # Each tenant's policy, read by the task owner's tenant; the default store holds none (nothing narrowed).
    policies: PolicyStore = field(default_factory=InMemoryPolicyStore)
    # The waits for approval, by expiry, for the sweep.
    waits: ApprovalWaits = field(default_factory=InMemoryApprovalWaits)
    # The ai_tool role's router; its calls count in each task's usage and budget.
    router: LLMRouter | None = None
