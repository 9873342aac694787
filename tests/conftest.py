"""Fixtures every tier shares: settings and unique names, so tests can share one broker and database."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Iterator

import pytest

from troupe.kafka import delete_topics, list_topics
from troupe.settings import Settings


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and database names."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(service_name="troupe-tests")


# A test deployment's topics: a short word and a hex suffix (`t1a2b3c4d5e6f.tasks.submitted`,
# `it.1a2b3c4d5e6f.a`). A benchmark's (`bench…`) are its own to delete, as it may run beside the tests.
_THROWAWAY_TOPIC = re.compile(r"^(?!bench)[a-z]+\.?[0-9a-f]{8,12}\.")


@pytest.fixture(scope="session", autouse=True)
def _delete_the_sessions_topics(settings: Settings) -> Iterator[None]:
    """Delete, at the end, the test deployments' topics this session created on the local broker.

    The broker outlives the session; without this every run left a few thousand partitions on it, which
    slowed its start by minutes and made every metadata answer (each service start) longer.
    """
    if not reachable(settings.kafka_bootstrap_servers.split(",")[0]):  # unit tests alone run without a broker
        yield
        return
    before = asyncio.run(list_topics(settings.kafka_bootstrap_servers))
    yield
    asyncio.run(
        delete_topics(
            settings.kafka_bootstrap_servers,
            lambda topic: topic not in before and _THROWAWAY_TOPIC.match(topic) is not None,
        )
    )


def reachable(host_port: str) -> bool:
    """Whether something listens at `host:port` (a bare `:port` means this machine)."""
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except OSError:
        return False
