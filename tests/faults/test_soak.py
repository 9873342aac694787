"""A soak: 1000 tasks at a steady rate through two replicas of each worker and one gateway. Every task ends,
memory stays flat and consumer lag stays bounded.

Half the tasks go through the gateway, half straight onto Kafka. Every few seconds the run samples the
resident memory of each process (VmRSS) and the lag of each consumer group. "Flat" and "bounded" are judged
over the load phase (while tasks go in at the steady rate), loosely:
- memory: each process's mean RSS over the last quarter is within MEMORY_GROWTH (+ MEMORY_SLACK_KIB) of its
  mean over the second quarter (the first quarter is warm-up: imports, connections, caches filling);
- lag: no worker group's lag in the second half exceeds LAG_GROWTH times its peak in the first half (or
  LAG_FLOOR messages), i.e. it does not climb the way it does when tasks come in faster than they are done.
A task has ended when its `task.finished` is on the topic. The gateway's projection (one consumer of every
topic, a few MongoDB writes per event) is reported, not asserted: on the 2-core dev box it is bound by the
shared FerretDB-on-SQLite, which sits at a full core under this load, and trails the pipeline by minutes.
Its lag, and how many tasks it shows final at the end, are in the figures; the kill -9 rounds assert it, at
a rate it keeps up with.
Figures: printed and written to `$TROUPE_FAULTS_REPORT_DIR/soak.json`.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.faults.deployment import deployment
from tests.faults.doors import doors
from tests.faults.quiescence import projected_statuses, until_quiet
from tests.faults.report import write_report
from tests.faults.sampling import Samples, sampling
from tests.faults.submitting import at_steady_rate
from tests.faults.tally import FINAL, tally
from troupe.service import group_name
from troupe.settings import Settings

pytestmark = pytest.mark.long_fault

TASKS = int(os.environ.get("TROUPE_FAULTS_SOAK_TASKS", "1000"))
RATE_PER_S = float(os.environ.get("TROUPE_FAULTS_SOAK_RATE", "2"))
REPLICAS = 2
LLM_LATENCY_S = 0.05
SAMPLE_EVERY_S = 5.0
MEMORY_GROWTH = 1.25
MEMORY_SLACK_KIB = 16 * 1024
LAG_GROWTH = 1.5
LAG_FLOOR = 100


def memory_figures(samples: Samples, load_end_s: float) -> dict[str, dict[str, float]]:
    load = samples.during(0, load_end_s)
    means = load.rss_quarter_means()
    start, middle, end = samples.rss_at(0), load.rss_at(0.5), samples.rss_at(1)
    return {
        name: {
            "start_mib": round(start[name] / 1024, 1),
            "middle_mib": round(middle[name] / 1024, 1),
            "end_mib": round(end[name] / 1024, 1),
            "q2_mean_mib": round(means[name][1] / 1024, 1),
            "q4_mean_mib": round(means[name][3] / 1024, 1),
        }
        for name in means
    }


def lag_figures(samples: Samples, load_end_s: float) -> dict[str, dict[str, int]]:
    first, second = (
        samples.during(0, load_end_s / 2).max_lag(),
        samples.during(load_end_s / 2, load_end_s).max_lag(),
    )
    last = {group: points[-1][1] for group, points in samples.lag.items() if points}
    return {
        group: {
            "max": peak,
            "first_half_max": first.get(group, 0),
            "second_half_max": second.get(group, 0),
            "end": last[group],
        }
        for group, peak in samples.max_lag().items()
    }


async def test_a_thousand_tasks_at_a_steady_rate_all_end_with_flat_memory_and_bounded_lag(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    logs = tmp_path_factory.mktemp("soak")
    async with (
        deployment(settings, logs, replicas=REPLICAS, llm_latency_s=LLM_LATENCY_S) as target,
        doors(target) as way_in,
        sampling(target, every_s=SAMPLE_EVERY_S) as samples,
    ):
        began = time.monotonic()
        await at_steady_rate(TASKS, RATE_PER_S, way_in.submit)
        load_end_s = time.monotonic() - samples.started
        accepted = way_in.accepted.task_ids
        quiet = await until_quiet(way_in.events, target.settings, accepted, projection=False)
        drained_s = time.monotonic() - began
        result = tally(accepted, way_in.events.by_task, None)
        projected = await projected_statuses(target.settings, accepted)
        projection_group = group_name(target.settings, "projection")
    memory = memory_figures(samples, load_end_s)
    lag = lag_figures(samples, load_end_s)
    figures = {
        **result.figures(),
        "rate_per_s": RATE_PER_S,
        "replicas": REPLICAS,
        "llm_latency_s": LLM_LATENCY_S,
        "load_s": round(load_end_s, 1),
        "wall_s": round(drained_s, 1),
        **quiet,
        "submitted_by": way_in.accepted.by_door,
        "dead_letters": len(way_in.events.dead_letters),
        "projection_final_at_end": sum(status in FINAL for status in projected.values()),
        "rss": memory,
        "lag": lag,
        "lag_every_30s": samples.lag_series(30),
        "lag_samples": len(next(iter(samples.lag.values()), [])),
        "failed_lag_samples": samples.failed_lag_samples,
    }
    write_report("soak", figures, tmp_path_factory.getbasetemp())
    assert len(accepted) == TASKS
    assert result.clean, f"lost {result.lost}, stuck {result.stuck_at}, duplicated {result.duplicated}"
    grew = {
        name: m
        for name, m in memory.items()
        if m["q4_mean_mib"] * 1024 > m["q2_mean_mib"] * 1024 * MEMORY_GROWTH + MEMORY_SLACK_KIB
    }
    assert not grew, f"resident memory grew over the load phase: {grew}"
    climbed = {
        group: peaks
        for group, peaks in lag.items()
        if group != projection_group
        and peaks["second_half_max"] > max(LAG_GROWTH * peaks["first_half_max"], LAG_FLOOR)
    }
    assert not climbed, f"consumer lag climbed over the load phase: {climbed}"
