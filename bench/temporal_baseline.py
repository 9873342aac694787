"""Drive the Temporal baseline: the workflow's worker in this process, the dev server from infra/temporal.sh."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.client import Client
from temporalio.worker import Worker

from bench.pipeline_load import description
from bench.temporal_flow import Activities, PlanExecuteReview

TASK_QUEUE = "troupe-bench"


class TemporalDoor:
    def __init__(self, client: Client, queue: str) -> None:
        self._client = client
        self._queue = queue

    async def run_task(self, revise: bool) -> str:
        outcome = await self._client.execute_workflow(
            PlanExecuteReview.run,
            description(revise),
            id=f"bench-{uuid.uuid4().hex[:16]}",
            task_queue=self._queue,
        )
        return str(outcome["status"])


@asynccontextmanager
async def temporal_door(
    address: str, llm_base_url: str, max_concurrent: int | None = None
) -> AsyncIterator[TemporalDoor]:
    client = await Client.connect(address, namespace="default")
    queue = f"{TASK_QUEUE}-{uuid.uuid4().hex[:6]}"
    activities = Activities(llm_base_url)
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[PlanExecuteReview],
        activities=[activities.plan, activities.execute, activities.review],
        # None keeps the SDK's defaults.
        max_concurrent_activities=max_concurrent,
        max_concurrent_workflow_tasks=max_concurrent,
    )
    async with worker:
        yield TemporalDoor(client, queue)
