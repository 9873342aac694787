"""MongoDB away: the gateway says so at once (503 + Retry-After), keeps accepting tasks into Kafka for keys it
verified lately, and its projection catches up when the database is back (decision 9). A gateway that starts
while its database is away waits for it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import SecretStr

from gateway_svc.settings import GatewaySettings
from schemas import decode_event
from tests.faults.private_servers import PrivateServer, private_ferretdb
from tests.integration.gateway.conftest import bearer, eventually, running_gateway, topic_records
from troupe.settings import Settings

ADMIN_TOKEN = "admin-token-for-the-outage-tests"
T = TypeVar("T")


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    result = await call
    return result, time.monotonic() - started


def _gateway_settings(settings: Settings, unique: str, database: PrivateServer) -> GatewaySettings:
    """A gateway on the shared broker and the private database, with topics and a database of its own."""
    return GatewaySettings(
        kafka_bootstrap_servers=settings.kafka_bootstrap_servers,
        mongodb_uri=f"mongodb://{database.address}/",
        mongodb_database=f"outage_{unique}",
        topic_prefix=f"outage{unique}",
        service_name="gateway-outage-tests",
        admin_api_key=SecretStr(ADMIN_TOKEN),
        kafka_partitions=2,
    )


async def test_a_gateway_whose_database_is_down_answers_503_at_once_and_still_accepts_tasks(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    with private_ferretdb(tmp_path) as database:
        gateway = _gateway_settings(settings, unique, database)
        async with (
            running_gateway(gateway) as url,
            httpx.AsyncClient(base_url=url, headers=bearer(ADMIN_TOKEN), timeout=30) as api,
        ):
            before = (await api.post("/tasks", json={"description": "before"})).json()["task_id"]

            database.stop()
            ready, ready_s = await timed(api.get("/readyz"))
            read, read_s = await timed(api.get(f"/tasks/{before}"))
            during, during_s = await timed(api.post("/tasks", json={"description": "during"}))
            keyed, keyed_s = await timed(
                api.post("/tasks", json={"description": "x"}, headers={"Idempotency-Key": "k1"})
            )
            stranger, stranger_s = await timed(
                api.post("/tasks", json={"description": "x"}, headers=bearer("trp_never_verified"))
            )
            submitted = await topic_records(gateway, gateway.topics.task_submitted)

            restart_s = database.start()
            back = time.monotonic()
            await eventually(lambda: _status(api, "/readyz", 200), "ready again", within_s=60, every=0.2)
            ready_again_s = time.monotonic() - back
            await eventually(
                lambda: _status(api, f"/tasks/{during.json()['task_id']}", 200),
                "the task accepted during the outage is projected",
                within_s=60,
                every=0.2,
            )
            projected_s = time.monotonic() - back

    assert (ready.status_code, ready.headers["retry-after"]) == (503, "5")
    assert ready.json()["checks"] == {"mongodb": False, "kafka": True}
    assert ready.json()["detail"] == "not ready: MongoDB does not answer; retry later"
    assert (read.status_code, read.headers["retry-after"]) == (503, "5")
    assert read.json()["detail"] == "the task store (MongoDB) is unreachable; retry later"
    assert during.status_code == 202
    assert {decode_event(r.value).task_id for r in submitted} == {before, during.json()["task_id"]}
    assert (keyed.status_code, keyed.headers["retry-after"]) == (503, "5")
    assert "Idempotency-Key" in keyed.json()["detail"]
    assert (stranger.status_code, stranger.headers["retry-after"]) == (503, "5")
    assert stranger.json()["detail"].startswith("cannot verify this API key")
    print(
        f"\nMongoDB down (gateway): /readyz 503 in {ready_s:.2f} s, GET 503 in {read_s:.2f} s, "
        f"POST (key verified lately) 202 in {during_s:.2f} s, POST with Idempotency-Key 503 in {keyed_s:.2f} s, "
        f"POST (key not verified) 503 in {stranger_s:.2f} s; FerretDB restart {restart_s:.1f} s, "
        f"ready {ready_again_s:.1f} s and the task accepted meanwhile projected {projected_s:.1f} s after it"
    )


async def test_a_gateway_started_while_its_database_is_down_waits_for_it(
    settings: Settings, unique: str, tmp_path: Path
) -> None:
    with private_ferretdb(tmp_path) as database:
        gateway = _gateway_settings(settings, unique, database)
        database.stop()

        async def serve() -> int:
            async with (
                running_gateway(gateway) as url,
                httpx.AsyncClient(base_url=url, headers=bearer(ADMIN_TOKEN), timeout=30) as api,
            ):
                return (await api.post("/tasks", json={"description": "after the wait"})).status_code

        serving = asyncio.create_task(serve())
        await asyncio.sleep(4)
        assert not serving.done(), "the gateway gave up (or started) without its database"
        started = time.monotonic()
        await asyncio.to_thread(database.start)
        submitted = await serving
    assert submitted == 202
    print(
        f"\ngateway started before its database: serving {time.monotonic() - started:.1f} s after it started"
    )


async def _status(api: httpx.AsyncClient, path: str, expected: int) -> bool:
    return (await api.get(path)).status_code == expected
