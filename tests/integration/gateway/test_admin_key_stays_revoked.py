"""The admin key from the settings is seeded at every start, but a restart must not undo its revocation."""

from __future__ import annotations

import httpx
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.auth import ADMIN_KEY_ID, MongoKeyStore
from gateway_svc.settings import GatewaySettings
from tests.integration.gateway.conftest import ADMIN_TOKEN, bearer, running_gateway
from troupe.db import Document


async def _status(url: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=url, headers=bearer(token), timeout=30) as client:
        return (await client.get("/tasks")).status_code


async def test_a_revoked_admin_key_stays_revoked_when_the_gateway_restarts(
    gateway_settings: GatewaySettings, database: AsyncDatabase[Document]
) -> None:
    async with running_gateway(gateway_settings) as url:
        assert await _status(url, ADMIN_TOKEN) == 200
        assert await MongoKeyStore(database).revoke(ADMIN_KEY_ID)
        assert await _status(url, ADMIN_TOKEN) == 401
    async with running_gateway(gateway_settings) as url:
        assert await _status(url, ADMIN_TOKEN) == 401


async def test_a_new_admin_token_in_the_settings_replaces_the_revoked_one(
    gateway_settings: GatewaySettings, database: AsyncDatabase[Document]
) -> None:
    async with running_gateway(gateway_settings) as url:
        assert await MongoKeyStore(database).revoke(ADMIN_KEY_ID)
    rotated = gateway_settings.model_copy(update={"admin_api_key": SecretStr("rotated-admin-token")})
    async with running_gateway(rotated) as url:
        assert await _status(url, "rotated-admin-token") == 200
        assert await _status(url, ADMIN_TOKEN) == 401
