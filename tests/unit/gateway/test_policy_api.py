"""Tenant policy over HTTP and the quota of tasks in flight, over in-memory fakes.

Who may do what: an operator reads and sets any tenant's policy; a tenant's admin reads its own and cannot
change it; other roles cannot read it. Past `max_tasks_in_flight`, a POST answers 429 saying so.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
from pymongo.errors import ServerSelectionTimeoutError

from gateway_svc.auth import InMemoryKeyStore, Role
from gateway_svc.components import Components
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from schemas import FinalStatus, TaskFinished, TaskSubmitted
from schemas.policy import TenantPolicy
from troupe.policy_store import InMemoryPolicyStore

from .test_api_with_fakes import TOKEN, parts, serving

__all__ = ["parts"]

TOKENS = {Role.OPERATOR: "trp_operator", Role.ADMIN: "trp_admin", Role.APPROVER: "trp_approver"}


async def with_roles(parts: Components) -> Components:
    assert isinstance(parts.keys, InMemoryKeyStore)
    for role, token in TOKENS.items():
        await parts.keys.put(f"k_{role.value}", token, "default" if role is Role.OPERATOR else "acme", role)
    return replace(parts, policies=InMemoryPolicyStore())


def as_role(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


POLICY = {"tenant": "acme", "allowed_tools": ["math"], "max_tasks_in_flight": 2}


async def test_an_operator_sets_and_reads_any_tenant_policy(parts: Components) -> None:
    parts = await with_roles(parts)
    async with serving(parts) as api:
        put = await api.put("/tenants/acme/policy", json=POLICY, headers=as_role(Role.OPERATOR))
        assert put.status_code == 200
        got = await api.get("/tenants/acme/policy", headers=as_role(Role.OPERATOR))
    assert got.json()["allowed_tools"] == ["math"] and got.json()["max_tasks_in_flight"] == 2
    assert (await parts.policies.get("acme")).allowed_tools == ["math"]


async def test_a_tenant_admin_reads_its_own_policy_but_cannot_change_it(parts: Components) -> None:
    parts = await with_roles(parts)
    async with serving(parts) as api:
        read = await api.get("/tenants/acme/policy", headers=as_role(Role.ADMIN))
        other = await api.get("/tenants/globex/policy", headers=as_role(Role.ADMIN))
        raised = await api.put(
            "/tenants/acme/policy",
            json={"tenant": "acme", "max_tasks_in_flight": 1000},
            headers=as_role(Role.ADMIN),
        )
    assert read.status_code == 200 and read.json()["tenant"] == "acme"
    assert other.status_code == 403
    assert raised.status_code == 403
    assert "a tenant's admin cannot change its policy or quotas" in raised.json()["detail"]
    assert (await parts.policies.get("acme")).max_tasks_in_flight is None


async def test_users_and_approvers_can_neither_read_nor_set_a_policy(parts: Components) -> None:
    parts = await with_roles(parts)
    async with serving(parts) as api:
        user_read = await api.get("/tenants/acme/policy")
        user_set = await api.put("/tenants/acme/policy", json=POLICY)
        approver_set = await api.put("/tenants/acme/policy", json=POLICY, headers=as_role(Role.APPROVER))
    assert (user_read.status_code, user_set.status_code, approver_set.status_code) == (403, 403, 403)
    assert "only an operator may set" in user_set.json()["detail"]


async def test_an_invalid_policy_is_refused_with_readable_reasons(parts: Components) -> None:
    parts = await with_roles(parts)
    async with serving(parts) as api:
        bad = await api.put(
            "/tenants/acme/policy",
            json={"tenant": "acme", "max_steps_per_plan": 0, "colour": "red"},
            headers=as_role(Role.OPERATOR),
        )
        elsewhere = await api.put("/tenants/globex/policy", json=POLICY, headers=as_role(Role.OPERATOR))
    assert bad.status_code == 422
    fields = {tuple(d["loc"][-1:]) for d in bad.json()["detail"]}
    assert fields == {("max_steps_per_plan",), ("colour",)}
    assert (
        elsewhere.status_code == 422
        and "the path names tenant 'globex'" in elsewhere.json()["detail"][0]["msg"]
    )


async def submit(api: httpx.AsyncClient) -> httpx.Response:
    return await api.post("/tasks", json={"description": "evaluate 1+1"})


async def test_past_the_quota_of_tasks_in_flight_a_post_answers_429_saying_so(parts: Components) -> None:
    parts = replace(parts, policies=InMemoryPolicyStore(TenantPolicy(tenant="acme", max_tasks_in_flight=2)))
    assert isinstance(parts.tasks, InMemoryTaskStore)
    projector = Projector(parts.tasks)
    async with serving(parts) as api:
        for _ in range(2):
            assert (await submit(api)).status_code == 202
        for event in parts.publisher.of_type(TaskSubmitted):  # type: ignore[attr-defined]
            await projector.apply(event)
        refused = await submit(api)
        assert refused.status_code == 429
        assert "max_tasks_in_flight = 2" in refused.json()["detail"]
        first = parts.publisher.of_type(TaskSubmitted)[0]  # type: ignore[attr-defined]
        await projector.apply(
            TaskFinished(
                task_id=first.task_id,
                tenant="acme",
                status=FinalStatus.FAILED,
                reason="x",
                finished_by="planner",
            )
        )
        assert (await submit(api)).status_code == 202


async def test_the_quota_counts_only_the_tenant_own_tasks(parts: Components) -> None:
    parts = replace(parts, policies=InMemoryPolicyStore(TenantPolicy(tenant="globex", max_tasks_in_flight=1)))
    async with serving(parts) as api:
        assert [(await submit(api)).status_code for _ in range(3)] == [202, 202, 202]


class UnreachablePolicies(InMemoryPolicyStore):
    async def get(self, tenant: str) -> TenantPolicy:
        raise ServerSelectionTimeoutError("no servers")


async def test_the_quota_is_not_enforced_while_the_store_is_unreachable(parts: Components) -> None:
    async with serving(replace(parts, policies=UnreachablePolicies())) as api:
        assert (await submit(api)).status_code == 202


assert TOKEN  # the default client's key is a user of tenant acme
