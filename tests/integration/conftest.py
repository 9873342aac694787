"""Integration tests talk to the real local Kafka broker and MongoDB-wire server that `make test` starts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.conftest import reachable
from troupe.db import Document, make_client
from troupe.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def _servers_are_up(settings: Settings) -> None:
    kafka = settings.kafka_bootstrap_servers.split(",")[0]
    if not reachable(kafka):
        pytest.fail(f"no Kafka broker at {kafka}: start the local stack with `make infra-up`", pytrace=False)
    mongo = settings.mongodb_uri.split("//", 1)[-1].split("/", 1)[0].split(",")[0]
    if not reachable(mongo):
        pytest.fail(f"no MongoDB-wire server at {mongo}: start it with `make infra-up`", pytrace=False)


@pytest.fixture
async def database(settings: Settings, unique: str) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of its own for each test, dropped afterwards."""
    client = make_client(settings)
    name = f"test_{unique}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()
