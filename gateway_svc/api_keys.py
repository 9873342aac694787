"""A tenant's keys over HTTP, managed by that tenant's admin: create, list, revoke, within its own tenant.

Operator keys are never made here (only with the CLI and MONGODB_URI), so no HTTP caller can mint a key
that sets policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from gateway_svc.access import Caller
from gateway_svc.api_errors import refusals
from gateway_svc.auth import ApiKey, Role
from gateway_svc.components import Parts

__all__ = ["router"]

router = APIRouter(tags=["keys"], responses=refusals(401, 403, 429, 503))

KeyId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The key id (not the token).")]


class NewKey(BaseModel):
    role: Literal["admin", "approver", "user"] = Field(
        default="user", description="Within the caller's tenant; operator keys are made only with the CLI."
    )


class KeyView(BaseModel):
    key_id: str
    tenant: str
    role: Role
    created_at: datetime
    revoked: bool


class CreatedKey(KeyView):
    token: str = Field(description="Shown once, never stored: keep it.")


def _admin(caller: ApiKey) -> None:
    if caller.role not in (Role.ADMIN, Role.OPERATOR):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"only the tenant's admin may manage its keys (this key's role: {caller.role.value})",
        )


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=CreatedKey, responses=refusals(400))
async def create_key(body: NewKey, caller: Caller, parts: Parts) -> CreatedKey:
    """A new key of the caller's tenant; its token is in this answer only."""
    _admin(caller)
    key, token = await parts.keys.create(caller.tenant, Role(body.role))
    return CreatedKey(**key.model_dump(), token=token)


@router.get("/keys", response_model=list[KeyView])
async def list_keys(caller: Caller, parts: Parts) -> list[KeyView]:
    """The caller's tenant's keys (never their tokens)."""
    _admin(caller)
    return [KeyView(**key.model_dump()) for key in await parts.keys.all(caller.tenant)]


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=refusals(
        404, why={404: "No such key in the caller's tenant: other tenants' keys are as absent."}
    ),
)
async def revoke_key(key_id: KeyId, caller: Caller, parts: Parts) -> None:
    """Revoke a key of the caller's tenant; another tenant's key is as absent as an unknown one (404)."""
    _admin(caller)
    if not any(key.key_id == key_id for key in await parts.keys.all(caller.tenant)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"key {key_id} not found")
    await parts.keys.revoke(key_id)
