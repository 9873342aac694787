"""A task's workspace through its life on the real broker: removed once the task has finished, and only then."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from executor_svc.app import create_app
from executor_svc.settings import ExecutorSettings
from schemas import FinalStatus, TaskFinished, encode_event
from troupe.db import make_client, make_database
from troupe.kafka import ensure_topics
from troupe.ledger import MongoLedger, finished_key


async def test_a_workspace_is_removed_when_its_task_finishes_and_a_forged_ending_removes_none(
    unique: str,
) -> None:
    root = Path(tempfile.mkdtemp(prefix="troupe-ws-lifecycle-"))
    settings = ExecutorSettings(
        service_name="executor",
        topic_prefix=f"ws{unique}",
        mongodb_database=f"ws_{unique}",
        executor_workspace_root=root,
        kafka_fetch_max_wait_ms=50,
    )
    await ensure_topics(settings, [settings.topics.task_finished])
    done, other = root / "acme" / "t-done", root / "acme" / "t-other"
    for workspace in (done, other):
        workspace.mkdir(parents=True)
        (workspace / "result.txt").write_text("kept until the task ends")
    app = create_app(settings)
    broker = app.broker
    assert broker is not None
    finished = TaskFinished(
        task_id="t-done", tenant="acme", event_id=f"f-{unique}", status=FinalStatus.SUCCEEDED
    )
    # A Kafka writer ends the other task, which is still running; the pipeline never recorded that ending.
    forged = TaskFinished(task_id="t-other", tenant="acme", event_id=f"x-{unique}", status=FinalStatus.FAILED)
    client = make_client(settings)
    await MongoLedger(make_database(client, settings)).record_once(finished_key("t-done"), finished)
    try:
        async with broker:
            await broker.start()
            # The subscriber reads from the latest offset: publish until its partitions are assigned.
            async with asyncio.timeout(60):
                while done.exists():
                    await broker.publish(encode_event(forged), settings.topics.task_finished)
                    await broker.publish(encode_event(finished), settings.topics.task_finished)
                    await asyncio.sleep(0.5)
            await app.stop()  # its hooks close the clients the handler used
        assert not done.exists()
        assert (other / "result.txt").read_text() == "kept until the task ends"
    finally:
        await client.drop_database(settings.mongodb_database)
        await client.close()
        shutil.rmtree(root, ignore_errors=True)
