"""Integration tests talk to the real local Kafka broker and MongoDB-wire server that `make test` starts."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from troupe.db import Document, make_client
from troupe.settings import Settings


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _servers_are_up(settings: Settings) -> None:
    kafka = settings.kafka_bootstrap_servers.split(",")[0]
    if not _reachable(kafka):
        pytest.fail(f"no Kafka broker at {kafka}: start the local stack with `make infra-up`", pytrace=False)
    mongo = settings.mongodb_uri.split("//", 1)[-1].split("/", 1)[0].split(",")[0]
    if not _reachable(mongo):
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
