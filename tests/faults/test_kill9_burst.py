"""kill -9 of each worker while hundreds of tasks are in flight on one partition: no task is lost, stuck, or
given more than one final result.

300 tasks are published straight onto Kafka at once, every task id keyed onto the same partition, so each
stage's events arrive as one wave on one partition and the parallel consumer holds them all in flight at
once, finishing them out of offset order. The scripted LLM answers after 1.5 s, so a planner's or reviewer's
record stays in flight a while. Then round after round the least-killed worker with tasks waiting on it is
killed with `kill -9` mid-work and restarted after a short pause; the gateway goes every third round.
The rounds must land on load, else the run proves nothing and fails: each worker is killed at least once
while `TROUPE_FAULTS_BURST_MIN_OPEN` tasks are open and `TROUPE_FAULTS_BURST_MIN_WAITING` of them wait on it.
Figures: printed and written to `$TROUPE_FAULTS_REPORT_DIR/kill9-burst.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections import Counter

import pytest
from aiokafka import AIOKafkaProducer

from bench.in_flight import Peaks
from bench.partitions import keys_on_partition, partition_of
from schemas import TaskConstraints, TaskRequest, TaskSubmitted, encode_event
from tests.e2e.conftest import WORKERS
from tests.e2e.scripted_llm import PLANNER_MODEL, REVIEWER_MODEL
from tests.e2e.test_pipeline_over_kafka import DEMO
from tests.faults.busy_kills import kill_when_busy
from tests.faults.deployment import deployment
from tests.faults.doors import doors
from tests.faults.quiescence import projected_statuses, until_quiet
from tests.faults.report import write_report
from tests.faults.submitting import Accepted
from tests.faults.tally import repeated_events, tally
from tests.faults.waiting_on import waiting_on
from troupe.settings import Settings

pytestmark = pytest.mark.long_fault

TASKS = int(os.environ.get("TROUPE_FAULTS_BURST_TASKS", "300"))
ROUNDS = int(os.environ.get("TROUPE_FAULTS_BURST_ROUNDS", "9"))  # worker kills; the gateway's come on top
MIN_OPEN = int(os.environ.get("TROUPE_FAULTS_BURST_MIN_OPEN", str(TASKS // 3)))
# A downstream wave is as steep as the stage before lets it out: on a loaded machine the planner may trickle the
# burst on, and the executor keep up with a few tasks at a time. So by default a worker's kill needs only work.
MIN_WAITING = int(os.environ.get("TROUPE_FAULTS_BURST_MIN_WAITING", "1"))
SEED = int(os.environ.get("TROUPE_FAULTS_SEED", "8"))
LLM_LATENCY_S = 1.5
# Kills and restarts stretch the burst over minutes on a loaded machine: no task may end timed out for it.
CONSTRAINTS = TaskConstraints(max_duration_s=3_600)
# Hundreds of calls open at once on a loaded machine wait longer than the default 10 s for their turn; a call
# given up on would fail its task, which is not the fault under test.
ENV = {"TROUPE_LLM_TIMEOUT_S": "120"}


async def publish_at_once(
    producer: AIOKafkaProducer, settings: Settings, task_ids: list[str], accepted: Accepted
) -> None:
    """Every submission sent before any acknowledgement is awaited; a task counts once the broker acked it."""
    topic = settings.topics.task_submitted
    partitions = len(await producer.partitions_for(topic))
    sent = []
    for task_id in task_ids:
        event = TaskSubmitted(
            task_id=task_id,
            tenant="acme",
            request=TaskRequest(description=DEMO, constraints=CONSTRAINTS),
        )
        sent.append(await producer.send(topic, encode_event(event), key=task_id.encode()))
    for task_id, acked in zip(task_ids, await asyncio.gather(*sent), strict=True):
        assert acked.partition == partition_of(task_id.encode(), partitions)
        accepted.task_ids.append(task_id)
        accepted.by_door["kafka"] += 1


async def test_kill9_while_hundreds_of_tasks_are_in_flight_on_one_partition_loses_sticks_or_duplicates_none(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = tmp_path_factory.mktemp("kill9-burst")
    async with (
        deployment(settings, logs, llm_latency_s=LLM_LATENCY_S, env_extra=ENV) as target,
        doors(target) as way_in,
    ):
        topics = target.settings.topics
        counts = {len(await way_in.producer.partitions_for(t)) for t in topics.all()}
        assert len(counts) == 1, f"the topics differ in partitions: {counts}"
        partitions = counts.pop()
        partition = SEED % partitions
        task_ids = keys_on_partition(f"burst-{uuid.uuid4().hex[:8]}", partition, partitions, TASKS)

        def waiting() -> Counter[str]:
            return waiting_on(task_ids, way_in.events.by_task)

        peaks = Peaks()

        async def sample() -> None:
            while True:
                now = waiting()
                for worker in WORKERS:
                    peaks.observe(worker, now[worker])
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        began = time.monotonic()
        await publish_at_once(way_in.producer, target.settings, task_ids, way_in.accepted)
        published_s = time.monotonic() - began
        # The rounds read the tasks' stages off the topics: they start once every submission has been seen.
        await way_in.events.wait_for(lambda: all(t in way_in.events.by_task for t in task_ids), timeout_s=120)
        rounds = await kill_when_busy(
            target,
            waiting,
            seed=SEED,
            rounds=ROUNDS,
            open_at_least=MIN_OPEN,
            at_least=MIN_WAITING,
        )
        accepted = way_in.accepted.task_ids
        quiet = await until_quiet(way_in.events, target.settings, accepted)
        wall_s = time.monotonic() - began
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        result = tally(accepted, way_in.events.by_task, await projected_statuses(target.settings, accepted))
        moments = rounds.moments
        figures = {
            "seed": SEED,
            "partition": f"{partition} of {partitions}",
            "published_in_s": round(published_s, 2),
            "kills": dict(rounds.log.kills),
            "kill_rounds_ended_by": rounds.ended_by,
            # What each kill landed on: the tasks waiting on each worker, and the LLM calls open, as it went.
            "at_each_kill": [
                {
                    "service": m.service,
                    "at_s": m.at_s,
                    "waiting": m.waiting,
                    "unfinished": m.unfinished,
                    "open_llm_calls": m.open_llm_calls,
                }
                for m in moments
            ],
            "down_s": round(rounds.log.down_s, 1),
            **result.figures(),
            "dead_letters": len(way_in.events.dead_letters),
            # What the kills cost: LLM calls made again (2 per role per task are needed) and events
            # published again, both absorbed by the stage ledger and the projection.
            "llm_calls": {
                "planner": target.llm.calls[PLANNER_MODEL],
                "reviewer": target.llm.calls[REVIEWER_MODEL],
            },
            "llm_calls_open_peak": {
                "planner": target.llm.peak_open_calls[PLANNER_MODEL],
                "reviewer": target.llm.peak_open_calls[REVIEWER_MODEL],
            },
            "tasks_waiting_on_worker_peak": peaks.values,
            "repeated_events": repeated_events(way_in.events.by_task),
            "llm_latency_s": LLM_LATENCY_S,
            "wall_s": round(wall_s, 1),
            **quiet,
            "dead_letter_reasons": sorted({d.reason for d in way_in.events.dead_letters}),
        }
        write_report("kill9-burst", figures, tmp_path_factory.getbasetemp())
    assert len(accepted) == TASKS
    # A kill that found its worker idle, or the burst drained, proves nothing about work in flight.
    on_load = {
        w: [
            m
            for m in moments
            if m.service == w and m.unfinished >= MIN_OPEN and m.waiting.get(w, 0) >= MIN_WAITING
        ]
        for w in WORKERS
    }
    assert all(on_load.values()), (
        f"not every worker was killed with {MIN_OPEN} tasks open and {MIN_WAITING} waiting on it: "
        f"{[(m.service, m.waiting) for m in moments]}; rounds ended by {rounds.ended_by}"
    )
    assert result.clean, f"lost {result.lost}, stuck {result.stuck_at}, duplicated {result.duplicated}"
    assert result.statuses == {"succeeded": TASKS}, result.statuses
