"""A running gateway removes artefacts past TROUPE_ARTEFACT_RETENTION_DAYS on its own, timed by its projection."""

from __future__ import annotations

from datetime import timedelta

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.projection_store import MongoTaskStore
from gateway_svc.settings import GatewaySettings
from gateway_svc.task_state import TaskState, TaskStatus
from schemas import utc_now
from troupe.artefacts import SelectedArtefacts
from troupe.db import Document

from .conftest import ADMIN_TOKEN, bearer, eventually, running_gateway


async def test_the_gateway_sweeps_ended_tasks_artefacts_and_keeps_running_ones(
    gateway_settings: GatewaySettings, database: AsyncDatabase[Document]
) -> None:
    an_hour_ago = utc_now() - timedelta(hours=1)
    artefacts = SelectedArtefacts(database, gateway_settings.artefact_store)
    for task_id, status in (("t-ended", TaskStatus.SUCCEEDED), ("t-running", TaskStatus.EXECUTING)):
        state = TaskState(task_id=task_id, status=status, created_at=an_hour_ago, updated_at=an_hour_ago)
        await MongoTaskStore(database).put(state, [])
        await artefacts.put("default", task_id, "1/s1", b"x" * 400_000, "text/plain")
    minute = 1 / (24 * 60)
    settings = gateway_settings.model_copy(
        update={"artefact_retention_days": minute, "artefact_sweep_interval_s": 0.2}
    )
    async with (
        running_gateway(settings) as url,
        httpx.AsyncClient(base_url=url, headers=bearer(ADMIN_TOKEN), timeout=30) as api,
    ):

        async def listed(task_id: str) -> list[str]:
            answer = await api.get(f"/tasks/{task_id}/artifacts")
            assert answer.status_code == 200, answer.text
            return [item["id"] for item in answer.json()["items"]]

        async def swept() -> bool:
            return await listed("t-ended") == []

        await eventually(swept, "the ended task's artefacts were not swept")
        assert len(await listed("t-running")) == 1
