"""The real parts: MongoDB stores, the Kafka publisher, the projection consumer and the live feed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from gateway_svc.artefact_retention import ArtefactSweep, prune_expired
from gateway_svc.auth import ADMIN_KEY_ID, MongoKeyStore, Role
from gateway_svc.components import Components
from gateway_svc.idempotency import MongoIdempotencyStore
from gateway_svc.live_events import KafkaLiveFeed, LiveEvents
from gateway_svc.projection_consumer import ProjectionConsumer
from gateway_svc.projection_store import MongoTaskStore
from gateway_svc.projector import Projector
from gateway_svc.rate_limit import MongoCounters, RateLimiter
from gateway_svc.recent_keys import RecentKeys
from gateway_svc.settings import GatewaySettings
from troupe.artefacts import SelectedArtefacts
from troupe.db import Document, make_client, make_database
from troupe.kafka import make_broker
from troupe.ledger import MongoLedger
from troupe.llm.config import LLMSettings
from troupe.llm.price_check import unpriced_refusal
from troupe.logs import get_logger
from troupe.policy_store import MongoPolicyStore
from troupe.publishing import KafkaEventPublisher
from troupe.service import prepare_servers

__all__ = ["connect"]

_log = get_logger(__name__)
_CHECK_TIMEOUT_S = 2.0


@asynccontextmanager
async def connect(settings: GatewaySettings) -> AsyncIterator[Components]:
    """Everything the gateway talks to, started in order and stopped in reverse."""
    # Requests give up on an unreachable MongoDB quickly (503); the projection just tries again.
    client = make_client(settings, selection_timeout_ms=settings.gateway_mongodb_timeout_ms)
    database = make_database(client, settings)
    tasks, keys, counters = MongoTaskStore(database), MongoKeyStore(database), MongoCounters(database)
    artefacts = SelectedArtefacts(database, settings.artefact_store)

    async def prepare_stores() -> None:
        for store in (tasks, keys, counters):
            await store.ensure_indexes()
        await artefacts.prepare()
        if settings.admin_api_key is not None:
            # Seeded, not replaced: a revoked admin key stays revoked across restarts until its token changes.
            # Whoever sets the gateway's environment runs the deployment, so its key is an operator's.
            await keys.seed(ADMIN_KEY_ID, settings.admin_api_key.get_secret_value(), "default", Role.OPERATOR)

    try:
        await prepare_servers(settings, {"MongoDB: creating the indexes": prepare_stores})
        broker = make_broker(settings)
        projection = (
            ProjectionConsumer(settings, Projector(tasks, remembered=settings.projection_remembered_tasks))
            if settings.run_projection
            else None
        )
        live = LiveEvents()
        feed = KafkaLiveFeed(settings, live)
        # Each part is stopped, in reverse, if it started, whatever happens after it (a later part that
        # fails to start included): a Kafka client left open holds its connections until the process ends.
        async with contextlib.AsyncExitStack() as started:
            await started.enter_async_context(broker)
            await broker.start()
            await feed.start()
            started.push_async_callback(feed.stop)
            if projection is not None:
                await projection.start()
                started.push_async_callback(projection.stop)
            started.callback(live.close_all)
            if settings.artefact_retention_days > 0:
                sweep = ArtefactSweep(
                    lambda: prune_expired(artefacts, tasks, settings.artefact_retention_days),
                    settings.artefact_sweep_interval_s,
                )
                sweep.start()
                started.push_async_callback(sweep.stop)
            yield Components(
                settings=settings,
                keys=keys,
                limiter=RateLimiter(counters, settings.rate_limit_per_minute),
                idempotency=MongoIdempotencyStore(database),
                tasks=tasks,
                publisher=KafkaEventPublisher(broker, settings.topics),
                live=live,
                readiness=lambda: _readiness(database, broker),
                artefacts=artefacts,
                recent_keys=RecentKeys(ttl_s=settings.key_cache_ttl_s),
                liveness=lambda: {} if projection is None else {"projection": projection.alive()},
                ledger=MongoLedger(database),
                policies=MongoPolicyStore(database, settings.policy_cache_ttl_s),
                refusal=partial(unpriced_refusal, settings=LLMSettings()),
            )
    finally:
        await client.close()


async def _readiness(database: AsyncDatabase[Document], broker: KafkaBroker) -> dict[str, bool]:
    mongo, kafka = await asyncio.gather(_mongo_answers(database), broker.ping(timeout=_CHECK_TIMEOUT_S))
    return {"mongodb": mongo, "kafka": bool(kafka)}


async def _mongo_answers(database: AsyncDatabase[Document]) -> bool:
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT_S):
            await database.command("ping")
    except Exception as exc:  # unreachable, timed out or refused: all mean "not ready"
        _log.warning("readiness: mongodb does not answer", error=repr(exc))
        return False
    return True
