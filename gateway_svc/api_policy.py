"""Tenant policy over HTTP: an operator reads and sets any tenant's; a tenant's admin reads its own.

A tenant's admin may not change its policy: the policy holds the tenant's limits and quotas, which only the
operator running the deployment sets.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from gateway_svc.access import Caller
from gateway_svc.api_errors import refusals
from gateway_svc.auth import ApiKey, Role
from gateway_svc.components import Parts
from schemas.envelope import ID_PATTERN
from schemas.policy import TenantPolicy

__all__ = ["router"]

router = APIRouter(tags=["policy"], responses=refusals(401, 403, 429, 503))

Tenant = Annotated[str, Path(pattern=ID_PATTERN, description="The tenant whose policy this is.")]


@router.get("/tenants/{tenant}/policy", response_model=TenantPolicy)
async def get_policy(tenant: Tenant, caller: Caller, parts: Parts) -> TenantPolicy:
    """The tenant's policy (the default, which narrows nothing, when none is set). Operator, or the
    tenant's own admin."""
    if caller.role is not Role.OPERATOR and not (caller.role is Role.ADMIN and caller.tenant == tenant):
        raise _forbidden(caller, f"only an operator or tenant {tenant!r}'s admin may read its policy")
    return await parts.policies.get(tenant)


@router.put("/tenants/{tenant}/policy", response_model=TenantPolicy, responses=refusals(400))
async def put_policy(tenant: Tenant, policy: TenantPolicy, caller: Caller, parts: Parts) -> TenantPolicy:
    """Replace the tenant's policy. Operator only: every stage applies it within TROUPE_POLICY_CACHE_TTL_S."""
    if caller.role is not Role.OPERATOR:
        why = (
            "a tenant's admin cannot change its policy or quotas; ask the operator"
            if caller.role is Role.ADMIN
            else "only an operator may set a tenant's policy"
        )
        raise _forbidden(caller, why)
    if policy.tenant != tenant:
        # The shape of FastAPI's answer for any other invalid field, which the OpenAPI schema documents.
        why = f"the policy is for tenant {policy.tenant!r}, but the path names tenant {tenant!r}"
        invalid = {"type": "value_error", "loc": ["body", "tenant"], "msg": why}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [invalid])
    await parts.policies.put(policy)
    return policy


def _forbidden(caller: ApiKey, why: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, f"{why} (this key's role: {caller.role.value})")
