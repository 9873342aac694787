"""`python -m bench realistic`: tasks published all at once, against an LLM that takes seconds to answer.

- r1: N tasks of one `math` step (a plan and a review, each one LLM call of `--llm-delay` seconds), for each N
  of `--tasks` and each count of `--replicas` (real processes, as the main benchmark starts them);
- r2: a python_exec step that sleeps 1 s in the sandbox the executor chooses, `--sandbox-tasks` at once;
- hol: one task whose planner call hangs 60 s, published first, then `--hol-others` tasks keyed onto its
  partition: do they end before the hung call returns?
- temporal: r1 as Temporal workflows, its worker allowed as many activities and workflow tasks at once as
  the largest N, on the same delaying LLM.
r2 and hol run with one replica of each worker. The raw results go next to the run's logs; the figures into
the "Realistic latency" section of docs/benchmarks.md and docs/benchmarks-realistic.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import realistic_report, report
from bench.burst import TaskTiming, burst_figures, head_of_line, peak_overlap, rates
from bench.in_flight import sampling
from bench.llm import HANG_MARKER, HANG_S, SANDBOX_MARKER
from bench.partitions import keys_on_partition, partition_of
from bench.pipeline_load import KafkaDoor, description, kafka_door
from bench.stack import REPO, Stack, rss_kib, temporal
from schemas import Topics
from troupe.settings import Settings

SCENARIOS = ("r1", "r2", "hol", "temporal")
TASK = description(False)
# Above the hang, so the hung call is answered, not timed out and retried.
LLM_TIMEOUT_S = HANG_S + 15
SETTLE_S = 30


def say(message: str) -> None:
    load = float(Path("/proc/loadavg").read_text().split()[0])
    print(f"==> bench realistic: {message} (load {load:.1f})", flush=True)


def budget_s(tasks: int, delay_s: float, hang_s: float = 0.0) -> float:
    """How long a burst may take: enough for today's 8 tasks at a time per stage, plus a minute."""
    return 60 + hang_s + tasks * max(delay_s, 0.1) * 1.5 / 2


class LlmStub:
    """The scripted LLM's counters (bench/llm.py)."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.removesuffix("/v1"), timeout=10)

    async def reset(self) -> None:
        (await self._client.post("/stats/reset")).raise_for_status()

    async def stats(self) -> dict[str, Any]:
        answer = await self._client.get("/stats")
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    async def close(self) -> None:
        await self._client.aclose()


async def kafka_burst(door: KafkaDoor, tasks: list[tuple[str, str]], budget: float) -> list[TaskTiming]:
    """Publish every task at once (in order, so tasks on one partition queue as listed); wait for their ends."""
    submitted: dict[str, float] = {}
    ends, deliveries = {}, []
    for task_id, text in tasks:
        submitted[task_id] = time.time()
        ends[task_id], sent = await door.publish(task_id, text)
        deliveries.append(sent)
    await asyncio.gather(*deliveries)
    await asyncio.wait(ends.values(), timeout=budget)
    return [
        TaskTiming(
            task_id,
            submitted[task_id],
            door.outcomes.ended_at.get(task_id),
            end.result().status.value if end.done() else None,
        )
        for task_id, end in ends.items()
    ]


async def callable_burst(run: Callable[[], Awaitable[str]], count: int, budget: float) -> list[TaskTiming]:
    """Start `count` runs at once; each timed from its start to its status."""

    async def timed(index: int) -> TaskTiming:
        submitted = time.time()
        status = await run()
        return TaskTiming(str(index), submitted, time.time(), status)

    runs = [asyncio.create_task(timed(i)) for i in range(count)]
    started = time.time()
    await asyncio.wait(runs, timeout=budget)
    for pending in runs:
        pending.cancel()
    return [
        r.result()
        if r.done() and not r.cancelled() and r.exception() is None
        else TaskTiming(str(i), started)
        for i, r in enumerate(runs)
    ]


def rss_mib(stack: Stack) -> dict[str, float | None]:
    return {p.name: rss_kib(p.pid)[0] / 1024 for p in stack.services if p.alive()}


def llm_figures(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "calls": stats["calls"],
        "peak_in_flight": stats["peak_in_flight_total"],
        "peak_in_flight_by_model": stats["peak_in_flight"],
    }


def figures(timings: list[TaskTiming]) -> dict[str, Any]:
    return {**asdict(burst_figures(timings)), "timings": [asdict(t) for t in timings]}


async def troupe_burst(
    stack: Stack, door: KafkaDoor, llm: LlmStub, tasks: list[tuple[str, str]], budget: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One burst on the services: its figures, and the LLM stub's counters over it."""
    stack.check()
    await llm.reset()
    cpu_before = stack.cpu()
    async with sampling(stack.metrics_ports(), lambda: rss_mib(stack)) as (in_flight, memory):
        timings = await kafka_burst(door, tasks, budget)
    cpu = {name: used - cpu_before.get(name, 0.0) for name, used in stack.cpu().items()}
    stats = await llm.stats()
    phase = figures(timings)
    ended = max(phase["finished"], 1)
    phase.update(
        llm=llm_figures(stats),
        events_in_flight_peak=in_flight.values,
        rss_mib_peak=memory.values,
        cpu_ms_per_task={name: 1000 * used / ended for name, used in cpu.items()},
        cancelled=await door.settle(SETTLE_S),
    )
    say(
        f"  {phase['finished']}/{phase['tasks']} ended in {phase['makespan_s']:.1f} s: {phase['tasks_per_s']:.2f} "
        f"tasks/s, p50 {phase['p50_s']:.1f} s, p95 {phase['p95_s']:.1f} s; "
        f"LLM calls in flight at most {phase['llm']['peak_in_flight']}"
    )
    return phase, stats


async def head_of_line_case(
    stack: Stack, door: KafkaDoor, llm: LlmStub, run_id: str, others: int, delay_s: float
) -> dict[str, Any]:
    partitions = await door.partition_count()
    hung = f"bench-hol-{run_id}-hung"
    partition = partition_of(hung.encode(), partitions)
    keys = keys_on_partition(f"bench-hol-{run_id}", partition, partitions, others)
    tasks = [(hung, f"{TASK} {HANG_MARKER}"), *((key, TASK) for key in keys)]
    say(f"head of line: a hung task, then {others} others on its partition ({partition} of {partitions})")
    # Today a partition's tasks are planned one after another, after the hang.
    budget = 60 + HANG_S + others * delay_s * 1.5
    phase, stats = await troupe_burst(stack, door, llm, tasks, budget)
    hung_returned = stats["hung_returned"][0] if stats["hung_returned"] else None
    found = head_of_line([TaskTiming(**t) for t in phase["timings"][1:]], hung_returned)
    phase["head_of_line"] = {
        "partition": partition,
        "partitions": partitions,
        "hung_returned_after_s": hung_returned - phase["timings"][0]["submitted"] if hung_returned else None,
        "others": found.others,
        "ended_before_hung_returned": found.ended_before_hung_returned,
        "nobody_waited": found.nobody_waited,
        "others_makespan_s": found.others_figures.makespan_s,
        "others_p50_s": found.others_figures.p50_s,
    }
    say(
        f"  {found.ended_before_hung_returned} of {found.others} ended before the hung call returned; "
        f"theirs took {found.others_figures.makespan_s:.1f} s"
    )
    return phase


async def sandbox_case(
    stack: Stack, door: KafkaDoor, llm: LlmStub, count: int, delay_s: float
) -> dict[str, Any]:
    say(f"r2: {count} tasks at once, each a python_exec step sleeping 1 s in the sandbox")
    tasks = [(f"bench-r2-{uuid.uuid4().hex[:16]}", f"{TASK} {SANDBOX_MARKER}") for _ in range(count)]
    phase, stats = await troupe_burst(stack, door, llm, tasks, budget_s(count, delay_s + 1))
    runs = [(start, end) for start, end, _ in stats["sandbox_runs"]]
    mean, most = rates([start for start, _ in runs])
    phase["sandbox"] = {
        "runs": len(runs),
        "backends": sorted({backend for _, _, backend in stats["sandbox_runs"]}),
        "started_per_s": mean,
        "most_started_in_1_s": most,
        "peak_running": peak_overlap(runs),
        "misses_shown": stats.get("sandbox_misses", []),
    }
    say(f"  {len(runs)} sandbox runs, {mean:.2f} started/s, at most {peak_overlap(runs)} running at once")
    return phase


async def measure_troupe(
    stack: Stack, settings: Settings, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    llm = LlmStub(stack.llm_url)
    try:
        async with kafka_door(
            settings.kafka_bootstrap_servers, Topics(stack.prefix), settings.kafka_fetch_max_wait_ms
        ) as door:
            for replicas in sorted(args.replicas):
                say(f"{replicas} replica(s) of each worker")
                stack.start_workers(replicas)
                if stack.gateway is None and args.gateway:
                    stack.start_gateway()
                # Joins, metadata and connections first.
                warm = [(f"bench-warm-{uuid.uuid4().hex[:12]}", TASK) for _ in range(8)]
                await kafka_burst(door, warm, budget_s(len(warm), args.llm_delay))
                await door.settle(SETTLE_S)
                if "r1" in args.scenarios:
                    run = results["r1"].setdefault(f"Troupe, {replicas} replica(s)", {})
                    for count in args.tasks:
                        say(f"r1: {count} tasks at once, {replicas} replica(s)")
                        tasks = [(f"bench-r1-{uuid.uuid4().hex[:16]}", TASK) for _ in range(count)]
                        run[str(count)], _ = await troupe_burst(
                            stack, door, llm, tasks, args.budget or budget_s(count, args.llm_delay)
                        )
                if replicas != min(args.replicas):
                    continue
                if "r2" in args.scenarios:
                    results["r2"] = await sandbox_case(stack, door, llm, args.sandbox_tasks, args.llm_delay)
                if "hol" in args.scenarios:
                    results["head_of_line"] = await head_of_line_case(
                        stack, door, llm, stack.run_id, args.hol_others, args.llm_delay
                    )
    finally:
        await llm.close()


async def measure_temporal(
    address: str, stack: Stack, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    from bench.temporal_baseline import temporal_door

    llm = LlmStub(stack.llm_url)
    run: dict[str, Any] = results["r1"].setdefault("Temporal", {})
    try:
        async with temporal_door(address, stack.llm_url, max_concurrent=max(args.tasks)) as door:
            await callable_burst(lambda: door.run_task(False), 8, budget_s(8, args.llm_delay))
            for count in args.tasks:
                say(f"Temporal r1: {count} workflows at once")
                await llm.reset()
                timings = await callable_burst(
                    lambda: door.run_task(False), count, args.budget or budget_s(count, args.llm_delay)
                )
                run[str(count)] = {**figures(timings), "llm": llm_figures(await llm.stats())}
                phase = run[str(count)]
                say(
                    f"  {phase['finished']}/{count} in {phase['makespan_s']:.1f} s: {phase['tasks_per_s']:.2f}/s, "
                    f"LLM calls in flight at most {phase['llm']['peak_in_flight']}"
                )
    finally:
        await llm.close()


def temporal_answers(address: str) -> bool:
    import socket

    host, _, port = address.rpartition(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


def run_temporal(address: str, stack: Stack, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """On a Temporal server already answering at `address` (left running), or on the dev server
    infra/temporal.sh starts (and stops after)."""
    if temporal_answers(address):
        asyncio.run(measure_temporal(address, stack, args, results))
    elif temporal("start"):
        try:
            asyncio.run(measure_temporal(address, stack, args, results))
        finally:
            temporal("stop")
    else:
        results["notes"].append("The Temporal dev server could not be built or started (see its log).")


def counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def without_notes(argv: list[str]) -> list[str]:
    """The command line without its notes (the section shows them as notes)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--note":
            skip = True
        elif not arg.startswith("--note="):
            kept.append(arg)
    return kept


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench realistic",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tasks", type=counts, default=[100, 500, 1000], help="tasks at once, comma-separated")
    p.add_argument("--replicas", type=counts, default=[1, 2], help="replicas of each worker, comma-separated")
    p.add_argument("--llm-delay", type=float, default=2.0, help="seconds each LLM call takes")
    p.add_argument(
        "--scenarios", type=lambda t: t.split(","), default=list(SCENARIOS), help="of r1,r2,hol,temporal"
    )
    p.add_argument("--sandbox-tasks", type=int, default=100)
    p.add_argument("--hol-others", type=int, default=100)
    p.add_argument("--budget", type=float, help="seconds a burst may take (default: from its size)")
    p.add_argument("--no-gateway", dest="gateway", action="store_false")
    p.add_argument("--temporal-address", default="127.0.0.1:7233")
    p.add_argument("--docs", type=Path, default=REPO / "docs")
    p.add_argument("--no-docs", action="store_true", help="print and save raw results only")
    p.add_argument("--note", action="append", default=[], help="a line for the section's notes")
    p.add_argument(
        "--render", type=Path, metavar="REALISTIC_JSON", help="only re-render a saved run's section"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="VAR=VALUE", help="a setting for the services"
    )
    return p


def main(argv: list[str]) -> int:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    args = parser().parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios {sorted(unknown)}; choose from {','.join(SCENARIOS)}")
    if args.render:
        saved = json.loads(args.render.read_text())
        saved["notes"] = [*saved.get("notes", []), *args.note]
        realistic_report.write(saved, args.docs)
        return 0
    command = shlex.join(["python", "-m", "bench", "realistic", *without_notes(argv)])
    started, clock = datetime.now(UTC), time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    out_dir = REPO / ".troupe" / "bench" / f"{started:%Y%m%dT%H%M%S}-{run_id}-realistic"
    tuning = {"TROUPE_LLM_TIMEOUT_S": str(LLM_TIMEOUT_S), **dict(item.split("=", 1) for item in args.set)}
    settings = Settings(
        **{k.removeprefix("TROUPE_").lower(): v for k, v in tuning.items() if k.startswith("TROUPE_KAFKA")}
    )
    stack = Stack(run_id, out_dir, settings.kafka_bootstrap_servers, settings.mongodb_uri, tuning)
    results: dict[str, Any] = {
        "started_at": f"{started:%Y-%m-%d %H:%M} UTC",
        "command": command,
        "machine": report.machine(),
        "llm_delay_s": args.llm_delay,
        "settings": {
            "TROUPE_KAFKA_PARTITIONS": str(settings.kafka_partitions),
            "TROUPE_KAFKA_MAX_IN_FLIGHT": str(settings.kafka_max_in_flight),
            **tuning,
        },
        "r1": {},
        "notes": list(args.note),
    }
    say(f"run {run_id}: logs and raw results in {out_dir}")
    raw = out_dir / "realistic.json"
    try:
        stack.start_llm(args.llm_delay)
        asyncio.run(measure_troupe(stack, settings, args, results))
        for proc in stack.services:
            proc.stop()  # the baseline gets the CPU; the LLM stub stays, it uses it too
        if "temporal" in args.scenarios and "r1" in args.scenarios:
            run_temporal(args.temporal_address, stack, args, results)
    finally:
        stack.stop()
        results["duration_s"] = time.monotonic() - clock
        out_dir.mkdir(parents=True, exist_ok=True)
        raw.write_text(json.dumps(results, indent=1))
    results["raw_path"] = str(raw.relative_to(REPO))
    raw.write_text(json.dumps(results, indent=1))
    print(realistic_report.text(results))
    if not args.no_docs:
        realistic_report.write(results, args.docs)
        say(f"wrote the Realistic latency section of {args.docs / 'benchmarks.md'}")
    say(f"raw results: {raw}; took {results['duration_s']:.0f} s")
    return 0
