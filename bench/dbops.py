"""MongoDB commands and CPU per task, per service: `python -m bench dbops [--tasks 50] [--baseline DIR]`.

Brings up the instant LLM, one replica of each worker and the gateway, each counting the MongoDB commands
it sends (bench/db_commands.py). After a warm-up, runs `--tasks` tasks over Kafka with `--in-flight` at
once, and prints per service the commands per task by (command, collection, `_id` shape) and the CPU per
task of every process. With `--baseline DIR` (another checkout, e.g. `git archive main | tar -x -C DIR`),
the baseline's services and this checkout's take turns, `--rounds` times each, and the CPU per task is also
printed as a ratio (this checkout / baseline) per round: on a shared machine only ratios of runs taken
close together mean much.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.pipeline_load import kafka_door
from bench.stack import REPO, Stack
from schemas import Topics
from troupe.settings import Settings

CountKey = tuple[str, str, str]


@dataclass(frozen=True)
class Measured:
    label: str
    tasks: int
    commands: dict[str, dict[CountKey, int]]  # service -> (command, collection, key shape) -> count
    cpu_s: dict[str, float]  # process -> CPU seconds over the measured tasks
    statuses: dict[str, int]


def snapshot(stack: Stack) -> dict[str, dict[CountKey, int]]:
    """Each service's command counts so far (it writes them on SIGUSR1)."""
    paths = {}
    for proc in stack.services:
        path = proc.log_path.with_suffix(".dbcounts.json")
        path.unlink(missing_ok=True)
        assert proc.process is not None
        proc.process.send_signal(signal.SIGUSR1)
        paths[proc.name] = path
    deadline = time.monotonic() + 10
    while not all(p.exists() for p in paths.values()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no command counts from {[n for n, p in paths.items() if not p.exists()]}")
        time.sleep(0.05)
    return {
        name: {(c, coll, key): n for c, coll, key, n in json.loads(path.read_text())}
        for name, path in paths.items()
    }


async def run_tasks(stack: Stack, settings: Settings, label: str, tasks: int, in_flight: int) -> Measured:
    async with kafka_door(settings.kafka_bootstrap_servers, Topics(stack.prefix), 100) as door:
        for _ in range(10):  # warm-up: group joins, first connections, imports
            await asyncio.wait_for(door.run_task(False), 60)
        await asyncio.sleep(3)  # the projection catches up with the warm-up
        before_counts, before_cpu = snapshot(stack), stack.cpu()
        door.outcomes.statuses.clear()
        gate = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with gate:
                await asyncio.wait_for(door.run_task(False), 120)

        await asyncio.gather(*(one() for _ in range(tasks)))
        await asyncio.sleep(3)  # the projection catches up with the tasks' last events
        after_counts, after_cpu = snapshot(stack), stack.cpu()
    commands = {
        name: {k: n - before_counts.get(name, {}).get(k, 0) for k, n in counts.items()}
        for name, counts in after_counts.items()
    }
    cpu_s = {name: used - before_cpu.get(name, 0.0) for name, used in after_cpu.items()}
    return Measured(label, tasks, commands, cpu_s, dict(door.outcomes.statuses))


def measure(label: str, code: Path, settings: Settings, tasks: int, in_flight: int) -> Measured:
    run_id = uuid.uuid4().hex[:8]
    stack = Stack(
        run_id,
        REPO / ".troupe" / "bench" / f"dbops-{run_id}",
        settings.kafka_bootstrap_servers,
        settings.mongodb_uri,
        code=code,
        counting=True,
    )
    try:
        stack.start_llm()
        stack.start_workers(1)
        if not stack.start_gateway():
            raise RuntimeError(f"the gateway of {code} did not start; see {stack.log_dir}")
        return asyncio.run(run_tasks(stack, settings, label, tasks, in_flight))
    finally:
        stack.stop()


def service_of(process: str) -> str:
    return process.split("#")[0]


def commands_table(m: Measured) -> str:
    lines = [f"{m.label}: MongoDB commands per task ({m.tasks} tasks, {m.statuses})"]
    lines.append(f"  {'service':<14} {'command':<14} {'collection':<16} {'_id':<18} {'per task':>8}")
    for service, counts in sorted(m.commands.items()):
        rows = sorted(((k, n) for k, n in counts.items() if n), key=lambda kn: (-kn[1], kn[0]))
        for (command, collection, key), n in rows:
            lines.append(
                f"  {service_of(service):<14} {command:<14} {collection:<16} {key:<18} {n / m.tasks:>8.2f}"
            )
        total = sum(counts.values()) / m.tasks
        lines.append(f"  {service_of(service):<14} {'(all)':<14} {'':<16} {'':<18} {total:>8.2f}")
    return "\n".join(lines)


def per_task_ms(m: Measured) -> dict[str, float]:
    return {service_of(name): 1000 * used / m.tasks for name, used in m.cpu_s.items()}


SERVICES = ("planner_svc", "executor_svc", "reviewer_svc", "gateway_svc")


def cpu_table(runs: Sequence[Measured]) -> str:
    names = [*SERVICES, "services", "ferretdb", "kafka broker", "llm", "load generator"]
    lines = ["CPU ms per task (ferretdb and the broker are shared with whatever else runs on the machine)"]
    lines.append("  " + f"{'run':<22}" + "".join(f"{n[:12]:>13}" for n in names))
    for m in runs:
        ms = per_task_ms(m)
        ms["services"] = sum(ms.get(s, 0.0) for s in SERVICES)
        lines.append("  " + f"{m.label:<22}" + "".join(f"{ms.get(n, 0.0):>13.1f}" for n in names))
    return "\n".join(lines)


def ratio_table(pairs: Sequence[tuple[Measured, Measured]]) -> str:
    """CPU per task of this checkout over the baseline's, per round (each pair measured one after another)."""
    names = [*SERVICES, "services", "ferretdb"]
    lines = ["CPU per task, this checkout / baseline, per round"]
    lines.append("  " + f"{'round':<8}" + "".join(f"{n[:12]:>13}" for n in names))
    for index, (base, new) in enumerate(pairs, 1):
        b, n = per_task_ms(base), per_task_ms(new)
        b["services"] = sum(b.get(s, 0.0) for s in SERVICES)
        n["services"] = sum(n.get(s, 0.0) for s in SERVICES)
        cells = "".join(f"{(n.get(x, 0.0) / b[x] if b.get(x) else 0.0):>13.2f}" for x in names)
        lines.append("  " + f"{index:<8}" + cells)
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(prog="python -m bench dbops", description=__doc__)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--in-flight", type=int, default=10)
    parser.add_argument("--baseline", type=Path, help="another checkout, measured in turns with this one")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    settings = Settings()
    runs: list[Measured] = []
    pairs: list[tuple[Measured, Measured]] = []
    for round_ in range(1, args.rounds + 1):
        base = None
        if args.baseline is not None:
            base = measure(
                f"baseline #{round_}", args.baseline.resolve(), settings, args.tasks, args.in_flight
            )
            runs.append(base)
            print(commands_table(base), flush=True)
        new = measure(f"this checkout #{round_}", REPO, settings, args.tasks, args.in_flight)
        runs.append(new)
        print(commands_table(new), flush=True)
        if base is not None:
            pairs.append((base, new))
    print(cpu_table(runs))
    if pairs:
        print(ratio_table(pairs))
    return 0
