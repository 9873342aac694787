"""Tenant policy end to end: the operator sets it over HTTP, the services read it from the database, and a
person sees each refusal's rule in the task. Each test has a tenant of its own, so policies never leak."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway_svc.auth import MongoKeyStore, Role
from tests.e2e.conftest import ApiClient, Pipeline
from tests.e2e.test_pipeline_over_kafka import DEMO
from troupe.db import make_client


async def key_for(pipeline: Pipeline, tenant: str, role: Role = Role.USER) -> str:
    client = make_client(pipeline.settings)
    try:
        _, token = await MongoKeyStore(client[pipeline.settings.mongodb_database]).create(tenant, role)
    finally:
        await client.close()
    return token


@pytest.fixture
async def tenant(pipeline: Pipeline) -> AsyncIterator[tuple[str, ApiClient]]:
    """A fresh tenant and a user key's client for it."""
    name = f"pol-{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {await key_for(pipeline, name)}"}
    async with httpx.AsyncClient(base_url=pipeline.gateway_url, headers=headers) as http:
        yield name, ApiClient(http)


async def set_policy(pipeline: Pipeline, tenant: str, **rules: Any) -> None:
    """As the operator: the settings' key."""
    async with httpx.AsyncClient(
        base_url=pipeline.gateway_url, headers={"Authorization": f"Bearer {pipeline.admin_key}"}
    ) as operator:
        answer = await operator.put(f"/tenants/{tenant}/policy", json={"tenant": tenant, **rules})
    assert answer.status_code == 200, answer.text


async def submit(api: ApiClient, body: dict[str, Any]) -> str:
    answer = await api.http.post("/tasks", json=body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["task_id"])


async def test_a_tool_the_policy_does_not_allow_fails_the_task_naming_the_rule_after_one_re_plan(
    pipeline: Pipeline, tenant: tuple[str, ApiClient]
) -> None:
    name, api = tenant
    await set_policy(pipeline, name, allowed_tools=["math"])
    task = await api.wait_until_final(await submit(api, {"description": DEMO}))
    assert task["status"] == "failed"
    assert "uses tool 'code_analyzer', which tenant policy allowed_tools does not allow" in task["error"]
    assert "after one re-plan" in task["error"]


async def test_a_host_outside_the_egress_allowlist_fails_the_task_naming_the_rule(
    pipeline: Pipeline, tenant: tuple[str, ApiClient]
) -> None:
    name, api = tenant
    await set_policy(pipeline, name, egress_hosts=["api.example.com"])
    fetch = {"steps": [{"id": "get", "tool": "http_client", "args": {"url": "https://evil.example.net/x"}}]}
    task = await api.wait_until_final(await submit(api, {"description": "fetch it", "plan": fetch}))
    assert task["status"] == "failed"
    assert "reaches host 'evil.example.net', which tenant policy egress_hosts does not allow" in task["error"]


async def test_past_the_quota_of_tasks_in_flight_a_post_answers_429_with_the_reason(
    pipeline: Pipeline, tenant: tuple[str, ApiClient]
) -> None:
    name, api = tenant
    await set_policy(pipeline, name, max_tasks_in_flight=1)
    first = await submit(api, {"description": f"{DEMO} [slow:executor]"})
    await api.wait_until(first, lambda task: True)  # the projection has it: it counts
    refused = await api.http.post("/tasks", json={"description": DEMO})
    assert refused.status_code == 429
    assert "has 1 tasks in flight" in refused.json()["detail"]
    assert "max_tasks_in_flight = 1" in refused.json()["detail"]
    await api.wait_until_final(first)  # the projection has stored the end: there is room again
    assert (await api.http.post("/tasks", json={"description": DEMO})).status_code == 202


async def test_an_invalid_plan_is_re_planned_once_and_the_task_shows_the_findings(
    tenant: tuple[str, ApiClient],
) -> None:
    _, api = tenant
    task = await api.wait_until_final(await submit(api, {"description": f"{DEMO} [unknown-tool-once]"}))
    assert task["status"] == "succeeded", task["error"]
    assert "re-planned once" in task["plan_feedback"]
    assert "step 'beam' uses unknown tool 'teleport'" in task["plan_feedback"]
    assert [step["tool"] for step in task["plan"]["steps"]] == ["code_analyzer"]


async def test_a_tenant_admin_reads_its_policy_but_cannot_raise_its_quota(
    pipeline: Pipeline, tenant: tuple[str, ApiClient]
) -> None:
    name, _ = tenant
    await set_policy(pipeline, name, max_tasks_in_flight=1)
    headers = {"Authorization": f"Bearer {await key_for(pipeline, name, Role.ADMIN)}"}
    async with httpx.AsyncClient(base_url=pipeline.gateway_url, headers=headers) as admin:
        read = await admin.get(f"/tenants/{name}/policy")
        raised = await admin.put(f"/tenants/{name}/policy", json={"tenant": name, "max_tasks_in_flight": 50})
    assert read.status_code == 200 and read.json()["max_tasks_in_flight"] == 1
    assert raised.status_code == 403
    assert "a tenant's admin cannot change its policy or quotas" in raised.json()["detail"]
