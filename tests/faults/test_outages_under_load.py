"""Kafka, then MongoDB, stopped for 30 s in the middle of a steady stream of tasks and started again: the
services reconnect by themselves and every task ends exactly once, with its document right (issue #8).

Each run has servers of its own (tests/faults/private_servers.py); the shared ones are never stopped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import running_pipeline
from tests.e2e.scripted_llm import scripted_llm
from tests.faults.outage_run import EXTRA_ENV, assert_every_task_ended_once_and_right, run_outage
from tests.faults.private_servers import private_ferretdb, private_kafka
from troupe.settings import Settings


@pytest.mark.long_fault
async def test_kafka_stopped_for_30_s_under_load_every_task_ends_once(
    settings: Settings, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with private_kafka(tmp_path / "kafka") as broker:
        servers = settings.model_copy(update={"kafka_bootstrap_servers": broker.address})
        with (
            scripted_llm() as llm,
            running_pipeline(servers, tmp_path_factory, llm, extra_env=EXTRA_ENV) as pipeline,
        ):
            report = await run_outage(pipeline, broker, name="Kafka")
    print(report.line())

    assert report.probe.ready == 503 and report.probe.ready_retry_after == "5"
    assert report.probe.ready_detail == "not ready: Kafka does not answer; retry later"
    assert report.probe.read == 200  # reads come from MongoDB, which is up
    assert_every_task_ended_once_and_right(report)


@pytest.mark.long_fault
async def test_mongodb_stopped_for_30_s_under_load_every_task_ends_once_and_is_projected(
    settings: Settings, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with private_ferretdb(tmp_path / "ferretdb") as database:
        servers = settings.model_copy(update={"mongodb_uri": f"mongodb://{database.address}/"})
        with (
            scripted_llm() as llm,
            running_pipeline(servers, tmp_path_factory, llm, extra_env=EXTRA_ENV) as pipeline,
        ):
            report = await run_outage(pipeline, database, name="MongoDB")
    print(report.line())

    assert report.probe.ready == 503 and report.probe.ready_retry_after == "5"
    assert report.probe.ready_detail == "not ready: MongoDB does not answer; retry later"
    assert report.probe.read == 503 and report.probe.read_retry_after == "5"
    assert report.probe.unknown_key == 503
    assert report.accepted_during_outage > 0  # submissions went on: Kafka holds them
    assert_every_task_ended_once_and_right(report)
