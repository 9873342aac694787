"""Fixtures every tier shares: settings and unique names, so tests can share one broker and database."""

from __future__ import annotations

import uuid

import pytest

from troupe.settings import Settings


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic, group and database names."""
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(service_name="troupe-tests")
