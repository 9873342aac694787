"""One tuning step, quickly: `python -m bench.ab LABEL [VAR=VALUE ...]`.

A fresh deployment with the given settings, then the 4-hop floor, the serial latency over Kafka, the
throughput at 100 tasks in flight and each worker's CPU when idle and under that load. Appends one JSON line
to .troupe/bench/tuning.jsonl, which `python -m bench` renders as the report's tuning table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench import floor, pipeline_load, report
from bench.stack import REPO, Stack
from schemas import Topics
from troupe.settings import Settings

TUNING_LOG = REPO / ".troupe" / "bench" / "tuning.jsonl"


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def measure(stack: Stack, settings: Settings, out: dict[str, Any]) -> None:
    async with floor.relay_chain(
        settings.kafka_bootstrap_servers,
        stack.prefix,
        4,
        settings.kafka_partitions,
        settings.kafka_fetch_max_wait_ms,
    ) as chain:
        await floor.floor_latencies(chain, 10, 20)
        out["floor_p50_ms"] = report.summary_ms(await floor.floor_latencies(chain, 60, 15))["p50"]
    topics = Topics(stack.prefix)
    async with pipeline_load.kafka_door(
        settings.kafka_bootstrap_servers, topics, settings.kafka_fetch_max_wait_ms
    ) as door:
        await pipeline_load.latencies(door.run_task, False, 10, 30)
        before, clock = stack.cpu(), time.monotonic()
        await asyncio.sleep(10)
        out["idle_cpu"] = {
            k: round((v - before[k]) / (time.monotonic() - clock), 3) for k, v in stack.cpu().items()
        }
        out["kafka_p50_ms"] = report.summary_ms(await pipeline_load.latencies(door.run_task, False, 60, 20))[
            "p50"
        ]
        before, clock = stack.cpu(), time.monotonic()
        run = await pipeline_load.throughput(door.run_task, 100, 8, 2, 30)
        out["tasks_per_s_at_100"] = run.per_second
        out["load_cpu"] = {
            k: round((v - before[k]) / (time.monotonic() - clock), 2) for k, v in stack.cpu().items()
        }
        out["cancelled"] = await door.settle(20)


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    label, *pairs = sys.argv[1:]
    tuning = dict(pair.split("=", 1) for pair in pairs)
    kafka: dict[str, Any] = {
        k.removeprefix("TROUPE_").lower(): v for k, v in tuning.items() if k.startswith("TROUPE_KAFKA")
    }
    settings = Settings(**kafka)
    run_id = uuid.uuid4().hex[:8]
    stack = Stack(
        run_id,
        REPO / ".troupe" / "bench" / f"ab-{run_id}",
        settings.kafka_bootstrap_servers,
        settings.mongodb_uri,
        tuning,
    )
    out: dict[str, Any] = {"label": label, "settings": tuning, "load_before": load()}
    try:
        stack.start_llm()
        stack.start_workers(1)
        asyncio.run(measure(stack, settings, out))
    finally:
        stack.stop()
    out["load_after"] = load()
    print(json.dumps(out))
    TUNING_LOG.parent.mkdir(parents=True, exist_ok=True)
    with TUNING_LOG.open("a") as log:
        log.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
