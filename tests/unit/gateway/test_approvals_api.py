"""A task that waits for approval, as the API shows it and answers for it, over in-memory fakes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from gateway_svc.auth import InMemoryKeyStore, Role
from gateway_svc.components import Components
from gateway_svc.projection import fold
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from gateway_svc.task_state import TaskStatus
from schemas import (
    ApprovalDecided,
    ApprovalDecision,
    FinalStatus,
    PlanAwaitingApproval,
    PlanCreated,
    StepPhase,
    TaskFinished,
    TaskSubmitted,
)
from schemas.policy import ApprovalRules, TenantPolicy
from troupe.approval_records import wait_key
from troupe.ledger import InMemoryLedger
from troupe.policy_rules import plan_hash
from troupe.policy_store import InMemoryPolicyStore
from troupe.publishing import RecordingPublisher

from . import test_api_with_fakes
from .events import CONTEXT, PLAN, REQUEST, at, step
from .test_api_with_fakes import serving

APPROVER_TOKEN, OTHER_TENANT_TOKEN = "trp_approver", "trp_other"
parts = test_api_with_fakes.parts  # the fixture: a user key of tenant acme, in-memory stores


def waiting(task_id: str = "t1", iteration: int = 1) -> PlanAwaitingApproval:
    return PlanAwaitingApproval(
        task_id=task_id,
        tenant="acme",
        iteration=iteration,
        plan_hash=plan_hash(PLAN),
        reasons=["step 'a' uses math, which needs approval (approvals.tools)"],
        expires_at=at(3600),
        expiry_reason="no answer to the approval request within approvals.timeout_s (3600 s)",
        approver_roles=["approver", "admin"],
    )


def until_waiting(task_id: str = "t1") -> list[TaskSubmitted | PlanCreated | PlanAwaitingApproval]:
    common: dict[str, Any] = {"task_id": task_id, "tenant": "acme"}
    return [
        TaskSubmitted(**common, request=REQUEST, occurred_at=at(0)),
        PlanCreated(**common, iteration=1, context=CONTEXT, plan=PLAN, occurred_at=at(1)),
        waiting(task_id).model_copy(update={"occurred_at": at(2)}),
    ]


def decided(decision: ApprovalDecision, seconds: int = 10) -> ApprovalDecided:
    return ApprovalDecided(
        task_id="t1",
        tenant="acme",
        iteration=1,
        plan_hash=plan_hash(PLAN),
        decision=decision,
        comment="ok",
        decided_by="k_approver",
        role="approver",
        occurred_at=at(seconds),
    )


def test_a_waiting_plan_shows_awaiting_approval_whatever_order_its_events_come_in() -> None:
    events = until_waiting()
    for order in (events, [events[0], events[2], events[1]]):
        state = fold([(e, None) for e in order], now=at(5))
        assert state is not None
        assert state.status is TaskStatus.AWAITING_APPROVAL
        assert state.approval is not None and state.approval.plan_hash == plan_hash(PLAN)
        assert state.plan == PLAN


def test_an_approval_is_recorded_in_the_task_and_moves_it_on() -> None:
    events = [*until_waiting(), decided(ApprovalDecision.APPROVE)]
    state = fold([(e, None) for e in events], now=at(20))
    assert state is not None and state.status is TaskStatus.EXECUTING
    [decision] = state.decisions
    assert (decision.decided_by, decision.role, decision.plan_hash, decision.decided_at) == (
        "k_approver",
        "approver",
        plan_hash(PLAN),
        at(10),
    )
    started = step("t1", "acme", "a", StepPhase.STARTED, 0, at(11)).model_copy(update={"iteration": 1})
    state = fold([(e, None) for e in [*events, started]], now=at(20))
    assert state is not None and state.status is TaskStatus.EXECUTING and state.current_step == "a"


def test_a_rejection_ends_declined() -> None:
    end = TaskFinished(
        task_id="t1",
        tenant="acme",
        iteration=1,
        status=FinalStatus.DECLINED,
        reason="declined",
        occurred_at=at(11),
    )
    state = fold([(e, None) for e in [*until_waiting(), decided(ApprovalDecision.REJECT), end]], now=at(20))
    assert state is not None and state.status is TaskStatus.DECLINED and state.reason == "declined"


@pytest.fixture
async def approvals(parts: Components) -> Components:
    keys = parts.keys
    assert isinstance(keys, InMemoryKeyStore)
    await keys.put("k_approver", APPROVER_TOKEN, "acme", Role.ADMIN)
    await keys.put("k_other", OTHER_TENANT_TOKEN, "globex", Role.ADMIN)
    ledger = InMemoryLedger()
    await ledger.record_once(wait_key("t1", 1), waiting())
    assert isinstance(parts.tasks, InMemoryTaskStore)
    projector = Projector(parts.tasks)
    for event in until_waiting():
        await projector.apply(event)
    return replace(parts, ledger=ledger)


def as_key(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_approver_approves_once_and_the_decision_is_recorded_then_published(
    approvals: Components,
) -> None:
    async with serving(approvals) as api:
        task = (await api.get("/tasks/t1")).json()
        assert task["status"] == "awaiting_approval"
        assert task["approval"]["reasons"] == ["step 'a' uses math, which needs approval (approvals.tools)"]
        answer = await api.post(
            "/tasks/t1/approval",
            json={"decision": "approve", "comment": "go"},
            headers=as_key(APPROVER_TOKEN),
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["plan_hash"] == plan_hash(PLAN)
        again = await api.post(
            "/tasks/t1/approval", json={"decision": "approve"}, headers=as_key(APPROVER_TOKEN)
        )
        other = await api.post(
            "/tasks/t1/approval", json={"decision": "reject"}, headers=as_key(APPROVER_TOKEN)
        )
    assert again.status_code == 202  # a retry republishes the recorded decision
    assert other.status_code == 409 and "already decided: approve by k_approver" in other.json()["detail"]
    assert isinstance(approvals.publisher, RecordingPublisher)
    published = approvals.publisher.of_type(ApprovalDecided)
    assert {e.event_id for e in published} == {published[0].event_id}
    assert (published[0].decided_by, published[0].role, published[0].comment) == ("k_approver", "admin", "go")


async def test_a_user_key_cannot_approve_under_the_default_approver_roles(approvals: Components) -> None:
    async with serving(approvals) as api:
        answer = await api.post("/tasks/t1/approval", json={"decision": "approve"})
    assert answer.status_code == 403
    assert "approvals.approver_roles allows: approver, admin" in answer.json()["detail"]


async def test_the_tenant_policy_decides_which_roles_may_approve(approvals: Components) -> None:
    policy = TenantPolicy(tenant="acme", approvals=ApprovalRules(approver_roles=["user"]))
    async with serving(replace(approvals, policies=InMemoryPolicyStore(policy))) as api:
        by_user = await api.post("/tasks/t1/approval", json={"decision": "reject"})
    assert by_user.status_code == 202, by_user.text


async def test_another_tenants_key_gets_404(approvals: Components) -> None:
    async with serving(approvals) as api:
        answer = await api.post(
            "/tasks/t1/approval", json={"decision": "approve"}, headers=as_key(OTHER_TENANT_TOKEN)
        )
    assert answer.status_code == 404


async def test_a_task_that_does_not_await_approval_gets_409(approvals: Components) -> None:
    assert isinstance(approvals.tasks, InMemoryTaskStore)
    await Projector(approvals.tasks).apply(
        TaskSubmitted(task_id="t2", tenant="acme", request=REQUEST, occurred_at=at(0) + timedelta(seconds=1))
    )
    async with serving(approvals) as api:
        answer = await api.post(
            "/tasks/t2/approval", json={"decision": "approve"}, headers=as_key(APPROVER_TOKEN)
        )
    assert answer.status_code == 409 and "does not await approval" in answer.json()["detail"]


async def test_only_approve_or_reject_is_an_answer(approvals: Components) -> None:
    async with serving(approvals) as api:
        answer = await api.post(
            "/tasks/t1/approval", json={"decision": "expire"}, headers=as_key(APPROVER_TOKEN)
        )
    assert answer.status_code == 422
