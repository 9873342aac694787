"""Tenant policy through a running gateway and the real database: the settings' key is the operator's, a
tenant admin's key cannot raise its own limits, and the quota counts the projection's unfinished tasks."""

from __future__ import annotations

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.auth import ADMIN_KEY_ID, MongoKeyStore, Role
from gateway_svc.projection_store import MongoTaskStore
from gateway_svc.projector import Projector
from gateway_svc.settings import GatewaySettings
from schemas import FinalStatus, TaskFinished, TaskRequest, TaskSubmitted
from tests.integration.gateway.conftest import ADMIN_TOKEN, bearer, running_gateway
from troupe.db import Document
from troupe.policy_store import MongoPolicyStore


async def test_the_settings_key_is_an_operator_that_sets_policy_and_a_tenant_admin_cannot(
    gateway_settings: GatewaySettings, database: AsyncDatabase[Document]
) -> None:
    keys = MongoKeyStore(database)
    await keys.ensure_indexes()
    await keys.put(ADMIN_KEY_ID, ADMIN_TOKEN, "default", Role.ADMIN)  # seeded by an older gateway
    _, admin_token = await keys.create("acme", Role.ADMIN)
    policy = {"tenant": "acme", "allowed_tools": ["math"], "max_tasks_in_flight": 1}
    async with running_gateway(gateway_settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as api:
        assert (
            await api.put("/tenants/acme/policy", json=policy, headers=bearer(ADMIN_TOKEN))
        ).status_code == 200
        refused = await api.put(
            "/tenants/acme/policy", json={**policy, "max_tasks_in_flight": 99}, headers=bearer(admin_token)
        )
        read = await api.get("/tenants/acme/policy", headers=bearer(admin_token))
    assert (await keys.find(ADMIN_TOKEN)).role is Role.OPERATOR  # type: ignore[union-attr]
    assert refused.status_code == 403 and "cannot change its policy or quotas" in refused.json()["detail"]
    assert read.json()["max_tasks_in_flight"] == 1
    assert (await MongoPolicyStore(database, cache_ttl_s=0).get("acme")).allowed_tools == ["math"]


async def test_the_quota_counts_unfinished_tasks_of_the_tenant_in_the_projection(
    database: AsyncDatabase[Document],
) -> None:
    tasks = MongoTaskStore(database)
    await tasks.ensure_indexes()
    projector = Projector(tasks)
    request = TaskRequest(description="x")
    for task_id, tenant in [("a1", "acme"), ("a2", "acme"), ("a3", "acme"), ("g1", "globex")]:
        await projector.apply(TaskSubmitted(task_id=task_id, tenant=tenant, request=request))
    await projector.apply(
        TaskFinished(
            task_id="a1", tenant="acme", status=FinalStatus.FAILED, reason="x", finished_by="planner"
        )
    )
    assert await tasks.count_open("acme", 10) == 2
    assert await tasks.count_open("acme", 1) == 1
    assert await tasks.count_open("globex", 10) == 1
