"""Fixtures every tier shares: settings and unique names, so tests can share one broker and database."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from tests.throwaway import owned_by_this_session, throwaway_suffix
from troupe.kafka import delete_topics, list_topics
from troupe.settings import Settings


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and database names."""
    return throwaway_suffix()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(service_name="troupe-tests")


@pytest.fixture(scope="session", autouse=True)
def _delete_the_sessions_topics(settings: Settings) -> Iterator[None]:
    """Delete, at the end, the test deployments' topics this session created on the local broker.

    The broker outlives the session; without this every run left a few thousand partitions on it, which
    slowed its start by minutes and made every metadata answer (each service start) longer. Only topics named
    with a suffix this session handed out (`tests.throwaway`) go: sessions share the broker, and a topic that
    merely appeared while this one ran may belong to a deployment another session is still running.
    """
    if not reachable(settings.kafka_bootstrap_servers.split(",")[0]):  # unit tests alone run without a broker
        yield
        return
    before = asyncio.run(list_topics(settings.kafka_bootstrap_servers))
    yield
    asyncio.run(
        delete_topics(
            settings.kafka_bootstrap_servers,
            lambda topic: topic not in before and owned_by_this_session(topic),
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
