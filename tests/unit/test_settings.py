"""Settings come from the environment under the names the ecosystem uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from executor_svc.settings import ExecutorSettings
from troupe.settings import Settings


def test_endpoints_are_read_from_the_standard_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("MONGODB_URI", "mongodb://mongo:27017/")
    monkeypatch.setenv("TROUPE_TOPIC_PREFIX", "staging")
    settings = Settings()
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.mongodb_uri == "mongodb://mongo:27017/"
    assert settings.topics.task_submitted == "staging.tasks.submitted"


def test_a_topic_prefix_that_kafka_would_refuse_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROUPE_TOPIC_PREFIX", "no spaces/allowed")
    with pytest.raises(ValueError, match="topic_prefix"):
        Settings()


def test_tasks_may_read_no_host_folder_unless_one_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    # The working directory holds .troupe/ (admin key, database files): it must not be readable by default.
    monkeypatch.delenv("TROUPE_EXECUTOR_READ_ONLY_ROOTS", raising=False)
    assert ExecutorSettings().executor_read_only_roots == []
    monkeypatch.setenv("TROUPE_EXECUTOR_READ_ONLY_ROOTS", '["/srv/project"]')
    assert ExecutorSettings().executor_read_only_roots == [Path("/srv/project")]
