"""A tenant's admin manages its tenant's keys over HTTP, and nothing more: no operator keys, no other tenant."""

from __future__ import annotations

from gateway_svc.auth import InMemoryKeyStore, Role
from gateway_svc.components import Components

from .test_api_with_fakes import parts, serving
from .test_policy_api import as_role, with_roles

__all__ = ["parts"]


async def test_a_tenant_admin_creates_lists_and_revokes_its_tenant_keys(parts: Components) -> None:
    parts = await with_roles(parts)
    async with serving(parts) as api:
        created = await api.post("/keys", json={"role": "approver"}, headers=as_role(Role.ADMIN))
        assert created.status_code == 201
        new = created.json()
        assert (new["tenant"], new["role"]) == ("acme", "approver") and new["token"].startswith("trp_")
        listed = await api.get("/keys", headers=as_role(Role.ADMIN))
        assert new["key_id"] in {k["key_id"] for k in listed.json()} and "token" not in listed.json()[0]
        assert {k["tenant"] for k in listed.json()} == {"acme"}
        revoked = await api.delete(f"/keys/{new['key_id']}", headers=as_role(Role.ADMIN))
        assert revoked.status_code == 204
        assert (
            await api.get("/tasks", headers={"Authorization": f"Bearer {new['token']}"})
        ).status_code == 401


async def test_no_operator_key_is_made_over_http(parts: Components) -> None:
    parts = await with_roles(parts)
    async with serving(parts) as api:
        for role in (Role.ADMIN, Role.OPERATOR):
            refused = await api.post("/keys", json={"role": "operator"}, headers=as_role(role))
            assert refused.status_code == 422 and "role" in refused.text


async def test_users_and_approvers_cannot_manage_keys_and_another_tenant_key_is_404(
    parts: Components,
) -> None:
    parts = await with_roles(parts)
    assert isinstance(parts.keys, InMemoryKeyStore)
    other, _ = await parts.keys.create("globex", Role.USER)
    async with serving(parts) as api:
        assert (await api.post("/keys", json={})).status_code == 403
        assert (await api.get("/keys", headers=as_role(Role.APPROVER))).status_code == 403
        assert (await api.delete(f"/keys/{other.key_id}", headers=as_role(Role.ADMIN))).status_code == 404
    assert not (await parts.keys.all("globex"))[0].revoked
