"""`python -m bench` (what `make bench` runs): bring up the services, measure, write docs/benchmarks.md.

`python -m bench realistic ...` runs the realistic-latency scenario alone (bench/realistic.py);
`python -m bench dbops ...` counts MongoDB commands and CPU per task per service (bench/dbops.py).

Every phase is bounded in count and time; the whole run is meant to stay under ~15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import dbops, floor, parts, pipeline_load, realistic, realistic_report, report
from bench.stack import BENCH_API_KEY, REPO, Stack, temporal
from schemas import Topics
from troupe.settings import Settings

CONCURRENCY = (1, 10, 100, 1000)


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run takes."""

    latency_tasks: int = 200
    revision_tasks: int = 100
    latency_budget_s: float = 60
    window_s: float = 8
    warmup_s: float = 2
    drain_s: float = 30

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            latency_tasks=40, revision_tasks=20, latency_budget_s=15, window_s=3, warmup_s=1, drain_s=30
        )


LOADS: list[float] = []


def say(message: str) -> None:
    # The 1-minute load average at each step: other work on the machine shows up in the figures.
    LOADS.append(float(Path("/proc/loadavg").read_text().split()[0]))
    print(f"==> bench: {message} (load {LOADS[-1]:.1f})", flush=True)


def said(samples: list[float]) -> list[float]:
    s = report.summary_ms(samples)
    say(f"  p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms, p99 {s['p99']:.1f} ms over {s['n']}")
    return samples


def points(run: pipeline_load.Throughput) -> dict[str, Any]:
    return {
        "per_second": run.per_second,
        "finished": run.finished,
        "failed": run.failed,
        "unfinished": run.unfinished,
        "seconds": run.seconds,
    }


async def measure_troupe(
    stack: Stack, settings: Settings, plan: Plan, results: dict[str, Any], http: bool
) -> None:
    topics = Topics(stack.prefix)
    latency = results["latency"]
    async with pipeline_load.kafka_door(
        settings.kafka_bootstrap_servers, topics, settings.kafka_fetch_max_wait_ms
    ) as door:
        say("warm-up: 10 tasks")
        await pipeline_load.latencies(door.run_task, False, 10, 60)
        await pipeline_load.latencies(door.run_task, True, 3, 60)
        if http:
            web = pipeline_load.HttpDoor(stack.gateway_url, BENCH_API_KEY)
            try:
                await pipeline_load.latencies(web.run_task, False, 5, 30)
                for case, revise, count in (
                    ("iteration", False, plan.latency_tasks),
                    ("revision", True, plan.revision_tasks),
                ):
                    say(f"latency over HTTP, {case}: up to {count} tasks")
                    latency.setdefault("http", {})[case] = said(
                        await pipeline_load.latencies(web.run_task, revise, count, plan.latency_budget_s)
                    )
            finally:
                await web.close()
        for case, revise, count in (
            ("iteration", False, plan.latency_tasks),
            ("revision", True, plan.revision_tasks),
        ):
            say(f"latency over Kafka, {case}: up to {count} tasks")
            latency.setdefault("kafka", {})[case] = said(
                await pipeline_load.latencies(door.run_task, revise, count, plan.latency_budget_s)
            )
        for replicas in (1, 2):
            if replicas == 2:
                say("starting a second replica of each worker")
                stack.start_workers(2)
                await pipeline_load.latencies(door.run_task, False, 10, 30)
            run: dict[str, Any] = results["throughput"].setdefault(
                f"Troupe, {replicas} replica(s) per worker", {}
            )
            for concurrency in CONCURRENCY:
                stack.check()
                say(f"throughput, {replicas} replica(s), {concurrency} in flight")
                cpu_before, clock = stack.cpu(), time.monotonic()
                measured = await pipeline_load.throughput(
                    door.run_task, concurrency, plan.window_s, plan.warmup_s, plan.drain_s
                )
                elapsed = time.monotonic() - clock
                run[str(concurrency)] = points(measured)
                run[str(concurrency)]["cancelled_backlog"] = await door.settle(plan.drain_s)
                # Share of one core each process used over the whole phase: what the load points at.
                run[str(concurrency)]["cpu"] = {
                    name: round((used - cpu_before.get(name, 0.0)) / elapsed, 2)
                    for name, used in stack.cpu().items()
                }
                say(
                    f"  {measured.per_second:.1f} tasks/s ({measured.failed} failed, {measured.unfinished} unfinished); cpu {run[str(concurrency)]['cpu']}"
                )
            results["memory"][f"{replicas}"] = stack.memory()


async def measure_floor(settings: Settings, prefix: str, plan: Plan, results: dict[str, Any]) -> None:
    for case, hops, count in (
        ("iteration", floor.HOPS_ONE_ITERATION, plan.latency_tasks),
        ("revision", floor.HOPS_ONE_REVISION, plan.revision_tasks),
    ):
        say(f"Kafka floor, {hops} hops: up to {count} messages")
        async with floor.relay_chain(
            settings.kafka_bootstrap_servers,
            prefix,
            hops,
            settings.kafka_partitions,
            settings.kafka_fetch_max_wait_ms,
        ) as chain:
            await floor.floor_latencies(chain, 10, 30)  # group joins and metadata first
            results["latency"].setdefault("floor", {})[case] = said(
                await floor.floor_latencies(chain, count, plan.latency_budget_s)
            )


async def measure_temporal(address: str, llm_url: str, plan: Plan, results: dict[str, Any]) -> None:
    from bench.temporal_baseline import temporal_door

    async with temporal_door(address, llm_url) as door:
        say("Temporal warm-up: 10 workflows")
        await pipeline_load.latencies(door.run_task, False, 10, 60)
        for case, revise, count in (
            ("iteration", False, plan.latency_tasks),
            ("revision", True, plan.revision_tasks),
        ):
            say(f"Temporal latency, {case}: up to {count} workflows")
            results["latency"].setdefault("temporal", {})[case] = said(
                await pipeline_load.latencies(door.run_task, revise, count, plan.latency_budget_s)
            )
        run: dict[str, Any] = results["throughput"].setdefault("Temporal", {})
        for concurrency in CONCURRENCY:
            say(f"Temporal throughput, {concurrency} in flight")
            measured = await pipeline_load.throughput(
                door.run_task, concurrency, plan.window_s, plan.warmup_s, plan.drain_s
            )
            run[str(concurrency)] = points(measured)
            say(
                f"  {measured.per_second:.1f} workflows/s ({measured.failed} failed, {measured.unfinished} unfinished)"
            )


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def write_docs(results: dict[str, Any], docs: Path, command: str) -> None:
    tuning_log = REPO / ".troupe" / "bench" / "tuning.jsonl"
    if tuning_log.exists():
        results["tuning_steps"] = [json.loads(line) for line in tuning_log.read_text().splitlines() if line]
    docs.mkdir(parents=True, exist_ok=True)
    path = docs / "benchmarks.md"
    old = path.read_text() if path.exists() else ""
    # The realistic-latency section comes from its own run (`python -m bench realistic`).
    path.write_text(
        realistic_report.keep_section(old, report.markdown(results, command), realistic_report.HEADING)
    )
    report.write_plot(results, docs / "benchmarks.png")
    say(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.png'}")


def main() -> int:
    # Stopped with SIGTERM: still stop the services and keep what was measured (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if sys.argv[1:2] == ["realistic"]:
        return realistic.main(sys.argv[2:])
    if sys.argv[1:2] == ["dbops"]:
        return dbops.main(sys.argv[2:])
    # aiokafka warns about every partition of a just-created topic whose leader is not elected yet.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for trying the harness")
    parser.add_argument("--no-temporal", action="store_true")
    parser.add_argument("--no-gateway", action="store_true")
    parser.add_argument("--temporal-address", default="127.0.0.1:7233")
    parser.add_argument("--docs", type=Path, default=REPO / "docs", help="where benchmarks.md/.png go")
    parser.add_argument("--no-docs", action="store_true", help="print and save raw results only")
    parser.add_argument("--note", action="append", default=[], help="a line for the report's notes")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="an environment setting for the services (TROUPE_KAFKA_FETCH_MAX_WAIT_MS=100, ...)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="only re-render the docs from a saved run's results",
    )
    args = parser.parse_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        saved["notes"] = [*saved.get("notes", []), *args.note]
        write_docs(saved, args.docs, "make bench")
        return 0
    plan = Plan.quick() if args.quick else Plan()

    started, clock = datetime.now(UTC), time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    out_dir = REPO / ".troupe" / "bench" / f"{started:%Y%m%dT%H%M%S}-{run_id}"
    settings = Settings()
    tuning = dict(item.split("=", 1) for item in args.set)
    # The floor and the load generator's own clients use the services' settings.
    settings = Settings(
        **{k.removeprefix("TROUPE_").lower(): v for k, v in tuning.items() if k.startswith("TROUPE_KAFKA")}
    )
    stack = Stack(run_id, out_dir, settings.kafka_bootstrap_servers, settings.mongodb_uri, tuning)
    results: dict[str, Any] = {
        "started_at": f"{started:%Y-%m-%d %H:%M} UTC",
        "machine": report.machine(),
        "plan": asdict(plan),
        "latency": {},
        "throughput": {},
        "memory": {},
        "notes": list(args.note),
        "temporalio_version": version("temporalio"),
        "aiokafka_version": version("aiokafka"),
    }
    say(f"run {run_id}: logs and raw results in {out_dir}")
    try:
        stack.start_llm()
        stack.start_workers(1)
        results["settings"] = {
            k: v
            for k, v in stack.environment().items()
            if k.startswith("TROUPE_KAFKA") or k in tuning or k in ("TROUPE_LOG_LEVEL", "TROUPE_LOG_JSON")
        }
        results["settings"].setdefault(
            "TROUPE_KAFKA_FETCH_MAX_WAIT_MS", str(settings.kafka_fetch_max_wait_ms)
        )
        results["settings"].setdefault("TROUPE_KAFKA_PARTITIONS", str(settings.kafka_partitions))
        results["settings"].setdefault("TROUPE_KAFKA_MAX_IN_FLIGHT", str(settings.kafka_max_in_flight))
        results["settings"].setdefault("TROUPE_LOG_LEVEL", settings.log_level)
        http = not args.no_gateway and stack.start_gateway()
        if not http:
            results["notes"].append(
                "The gateway was not available in this run: end-to-end latency is measured over Kafka only "
                "(task.submitted published until task.finished consumed), not through HTTP."
            )
        say(f"services up ({'with' if http else 'without'} the gateway)")
        asyncio.run(measure_floor(settings, stack.prefix, plan, results))
        # Before any load: a part must not share the machine with a backlog the services still work off.
        say("the design's parts, each alone (services up and idle)")
        results["parts"] = asyncio.run(parts.measure_parts(stack, settings))
        best = report.design_bounds(results)
        if best is not None:
            say(
                f"  at best {best.kafka_ms:.1f} ms over Kafka, {best.http_ms:.1f} ms through the gateway, "
                f"{best.cpu_ms:.1f} ms of CPU a task ({best.tasks_per_s:.0f} tasks/s)"
            )
        asyncio.run(measure_troupe(stack, settings, plan, results, http))
        # The services leave the CPU to the baseline; the LLM stub stays, the baseline uses it too.
        for proc in [*stack.workers, *([stack.gateway] if stack.gateway else [])]:
            proc.stop()
        if not args.no_temporal:
            build = REPO / ".troupe" / "cache" / "temporal" / "bin"
            if temporal("start"):
                results["temporal_version"] = (build / "VERSION").read_text().strip()
                stamp = subprocess.run([str(build / "temporal"), "--version"], capture_output=True, text=True)
                # "temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)": go install leaves the CLI unstamped.
                results["temporal_server"] = stamp.stdout.partition("(")[2].partition(",")[0]
                if (build / "BUILD_SECONDS").exists():
                    results["temporal_build_s"] = int((build / "BUILD_SECONDS").read_text())
                try:
                    asyncio.run(measure_temporal(args.temporal_address, stack.llm_url, plan, results))
                finally:
                    temporal("stop")
            else:
                results["notes"].append(
                    "The Temporal dev server could not be built or started (see its log)."
                )
    finally:
        stack.stop()
        if "duration_s" not in results:  # a failed run still leaves what it measured
            results["duration_s"] = time.monotonic() - clock
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    results["duration_s"] = time.monotonic() - clock
    results["load_average"] = {"min": min(LOADS), "max": max(LOADS), "mean": sum(LOADS) / len(LOADS)}
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / "results.json"
    results["raw_path"] = str(raw.relative_to(REPO))
    raw.write_text(json.dumps(results, indent=1))
    print(report.text_report(results))
    if not args.no_docs:
        write_docs(results, args.docs, "make bench" + (" --quick" if args.quick else ""))
    say(f"raw results: {raw}; took {results['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
