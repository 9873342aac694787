"""kill -9 of each service at seeded random moments while 200 tasks flow: no task is lost, stuck, or given more
than one final result.

Tasks go in at a steady rate, half through the gateway (a client retrying with its Idempotency-Key while the
gateway is down) and half straight onto Kafka. Meanwhile planner, executor, reviewer and gateway are killed
one at a time and restarted after a short pause, round after round, until the rounds are spent or every task
has ended. The scripted LLM answers after a little latency, so kills land in the middle of stages.
Figures: printed and written to `$TROUPE_FAULTS_REPORT_DIR/kill9-rounds.json`.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tests.e2e.conftest import WORKERS
from tests.e2e.scripted_llm import PLANNER_MODEL, REVIEWER_MODEL
from tests.faults.deployment import GATEWAY, deployment
from tests.faults.doors import doors
from tests.faults.kill_schedule import KillLog, carry_out, kill_schedule
from tests.faults.quiescence import projected_statuses, until_quiet
from tests.faults.report import write_report
from tests.faults.submitting import at_steady_rate
from tests.faults.tally import repeated_events, tally
from troupe.settings import Settings

pytestmark = pytest.mark.long_fault

TASKS = int(os.environ.get("TROUPE_FAULTS_KILL_TASKS", "200"))
ROUNDS = int(os.environ.get("TROUPE_FAULTS_KILL_ROUNDS", "40"))
SEED = int(os.environ.get("TROUPE_FAULTS_SEED", "8"))
RATE_PER_S = 0.75
LLM_LATENCY_S = 0.3


async def test_kill9_rounds_lose_stick_or_duplicate_no_task(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    schedule = kill_schedule(SEED, ROUNDS, [*WORKERS, GATEWAY])
    kills = KillLog()
    logs = tmp_path_factory.mktemp("kill9")
    async with deployment(settings, logs, llm_latency_s=LLM_LATENCY_S) as target, doors(target) as way_in:
        began = time.monotonic()

        def tasks_remain() -> bool:
            accepted = way_in.accepted.task_ids
            return len(accepted) < TASKS or not all(way_in.events.finished(t) for t in accepted)

        killing = asyncio.create_task(carry_out(schedule, target, kills, keep_going=tasks_remain))
        await at_steady_rate(TASKS, RATE_PER_S, way_in.submit)
        await killing
        accepted = way_in.accepted.task_ids
        quiet = await until_quiet(way_in.events, target.settings, accepted)
        wall_s = time.monotonic() - began
        result = tally(accepted, way_in.events.by_task, await projected_statuses(target.settings, accepted))
        figures = {
            "seed": SEED,
            "rounds": sum(kills.kills.values()),
            "kills": dict(kills.kills),
            "down_s": round(kills.down_s, 1),
            **result.figures(),
            "submitted_by": way_in.accepted.by_door,
            "submissions_retried": way_in.accepted.retried,
            "dead_letters": len(way_in.events.dead_letters),
            # What the kills cost: LLM calls made again (2 per role per task are needed) and events
            # published again, both absorbed by the stage ledger and the projection.
            "llm_calls": {
                "planner": target.llm.calls[PLANNER_MODEL],
                "reviewer": target.llm.calls[REVIEWER_MODEL],
            },
            "repeated_events": repeated_events(way_in.events.by_task),
            "rate_per_s": RATE_PER_S,
            "llm_latency_s": LLM_LATENCY_S,
            "wall_s": round(wall_s, 1),
            **quiet,
            "dead_letter_reasons": sorted({d.reason for d in way_in.events.dead_letters}),
        }
        write_report("kill9-rounds", figures, tmp_path_factory.getbasetemp())
    assert len(accepted) == TASKS
    assert all(kills.kills[service] >= 2 for service in [*WORKERS, GATEWAY]), kills.kills
    assert result.clean, f"lost {result.lost}, stuck {result.stuck_at}, duplicated {result.duplicated}"
    assert result.statuses == {"succeeded": TASKS}, result.statuses
