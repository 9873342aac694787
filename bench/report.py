"""The run's figures as a table, docs/benchmarks.md and a PNG plot."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.bounds import EVENT, PART_USES, Bounds, bounds
from bench.stack import WORKERS

Results = dict[str, Any]


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile, in the samples' unit (no interpolation: p99 of 200 is the 198th)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    # q * n first: 0.95 * 100 is 95.00000000000001 in floating point, whose ceiling would be one rank too high.
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered) / 100)))
    return ordered[rank - 1]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(samples, 50) * 1000,
        "p95": percentile(samples, 95) * 1000,
        "p99": percentile(samples, 99) * 1000,
        "mean": (statistics.fmean(samples) * 1000) if samples else float("nan"),
        "n": len(samples),
    }


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    java = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False).stderr
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else "unknown",
    }


LATENCY_ROWS = [
    ("http", "Troupe, POST -> final status via GET (gateway)"),
    ("kafka", "Troupe, task.submitted -> task.finished on Kafka"),
    ("floor", "Kafka floor, plain aiokafka relays"),
    ("temporal", "Temporal workflow, 3 activities per iteration"),
]
CASES = [("iteration", "1 iteration"), ("revision", "1 revision (2 iterations)")]


def _fmt(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def latency_table(results: Results) -> list[str]:
    floor = results["latency"].get("floor", {})
    lines = [
        "| path | case | p50 ms | p95 ms | p99 ms | n | p50 / floor p50 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in LATENCY_ROWS:
        cases = results["latency"].get(key)
        if not cases:
            continue
        for case, case_label in CASES:
            if case not in cases:
                continue
            s = summary_ms(cases[case])
            f = summary_ms(floor.get(case, []))
            ratio = s["p50"] / f["p50"] if f["n"] else float("nan")
            lines.append(
                f"| {label} | {case_label} | {_fmt(s['p50'])} | {_fmt(s['p95'])} | {_fmt(s['p99'])} "
                f"| {s['n']} | {'-' if ratio != ratio else f'{ratio:.2f}x'} |"
            )
    return lines


def throughput_table(results: Results) -> list[str]:
    runs: dict[str, dict[str, Any]] = results["throughput"]
    levels = sorted({int(c) for run in runs.values() for c in run})
    lines = [
        "| system | " + " | ".join(f"{c} in flight" for c in levels) + " |",
        "| --- | " + " | ".join("---:" for _ in levels) + " |",
    ]
    for name, run in runs.items():
        cells = []
        for c in levels:
            point = run.get(str(c))
            if point is None:
                cells.append("-")
                continue
            # Tasks still running when the loop stopped waiting (cancelled so the next phase starts clean).
            left = max(point.get("unfinished", 0), point.get("cancelled_backlog", 0))
            cells.append(
                f"{point['per_second']:.1f}"
                + (f", {point['failed']} failed" if point["failed"] else "")
                + (f", {left} left over" if left else "")
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def memory_table(results: Results) -> list[str]:
    lines = ["| replicas | process | RSS after load MiB | peak RSS MiB |", "| --- | --- | ---: | ---: |"]
    for replicas, procs in results["memory"].items():
        for name, (rss, peak) in sorted(procs.items()):
            lines.append(f"| {replicas} | {name} | {rss / 1024:.0f} | {peak / 1024:.0f} |")
    return lines


def cpu_table(results: Results) -> list[str]:
    """CPU per finished task by process, at each load of the throughput runs: each process's share of a core
    over the phase divided by the phase's tasks per second (so approximate: the phase also holds the warm-up
    and the drain)."""
    runs = {k: run for k, run in results["throughput"].items() if k.startswith("Troupe")}
    columns = [
        (name, level) for name, run in runs.items() for level in sorted(run, key=int) if int(level) >= 10
    ]
    procs = sorted({p for name, level in columns for p in runs[name][level].get("cpu", {})})
    if not procs:
        return ["(no CPU figures in this run)"]
    head = " | ".join(
        f"{'1' if '1 replica' in name else '2'} repl., {level} in flight" for name, level in columns
    )
    lines = [f"| process | {head} |", "| --- |" + " ---: |" * len(columns)]
    totals = [0.0] * len(columns)
    for proc in procs:
        cells = []
        for i, (name, level) in enumerate(columns):
            point = runs[name][level]
            share, rate = point.get("cpu", {}).get(proc), point["per_second"]
            if share is None or not rate:
                cells.append("-")
                continue
            totals[i] += 1000 * share / rate
            cells.append(f"{1000 * share / rate:.1f}")
        lines.append(f"| {proc} | {' | '.join(cells)} |")
    lines.append(f"| **all** | {' | '.join(f'**{t:.1f}**' for t in totals)} |")
    return lines


def design_bounds(results: Results) -> Bounds | None:
    """The bounds of a run's measured parts (bench/bounds.py); None for a run that did not measure them."""
    parts, floor = results.get("parts"), results["latency"].get("floor", {}).get("iteration")
    if not parts or not floor:
        return None
    p50 = {name: summary_ms(part["latency"])["p50"] for name, part in parts.items() if part.get("latency")}
    cpu = {name: part["cpu_ms"] for name, part in parts.items() if part.get("cpu_ms")}
    return bounds(p50, cpu, summary_ms(floor)["p50"], int(results["machine"]["cores"]))


def parts_table(results: Results) -> list[str]:
    found = design_bounds(results)
    if found is None:
        return ["(this run did not measure the parts)"]
    lines = [
        "| part | uses: critical path over Kafka / added by the gateway / CPU per task | p50 alone ms "
        "| CPU per use ms, at best | by |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for name, part in results["parts"].items():
        uses = PART_USES[name]
        latency = (
            f"{summary_ms(part['latency'])['p50']:.2f}"
            if part.get("latency")
            else ("(in the floor)" if uses.on_path == 0 and name == EVENT else "-")
        )
        cpu = part.get("cpu_ms", {})
        by = ", ".join(f"{process} {ms:.3f}" for process, ms in cpu.items()) or "-"
        lines.append(
            f"| {name} | {uses.on_path} / {uses.through_gateway} / {uses.per_task} | {latency} "
            f"| {f'{sum(cpu.values()):.3f}' if cpu else '-'} | {by} |"
        )
    floor = summary_ms(results["latency"]["floor"]["iteration"])["p50"]
    best = best_throughput(results)
    lines += [
        "",
        f"- **Least latency over Kafka**: the floor {floor:.1f} ms plus the parts on the critical path = "
        f"**{found.kafka_ms:.1f} ms** ({found.kafka_ms / floor:.2f}x the floor).",
        f"- **Least latency through the gateway**: **{found.http_ms:.1f} ms** ({found.http_ms / floor:.2f}x the "
        f"floor), against a target of {2 * floor:.1f} ms (2x the floor).",
        f"- **Least CPU per task**: **{found.cpu_ms:.1f} ms**, so at most **{found.tasks_per_s:.0f} tasks/s** on "
        f"{found.cores} cores; {found.tasks_per_s_without_stub:.0f} tasks/s if the LLM stub's "
        f"{found.stub_cpu_ms:.1f} ms ran elsewhere, as a real provider's would. The services measured "
        f"{best:.1f} tasks/s at best.",
    ]
    return lines


def best_throughput(results: Results) -> float:
    return max(
        (
            p["per_second"]
            for k, run in results["throughput"].items()
            if k.startswith("Troupe")
            for p in run.values()
        ),
        default=0.0,
    )


def targets(results: Results) -> list[str]:
    lat = results["latency"]
    main = "http" if "http" in lat else "kafka"
    p50 = summary_ms(lat[main]["iteration"])["p50"]
    floor = summary_ms(lat["floor"]["iteration"])["p50"]
    best = best_throughput(results)
    lines = [
        f"- p50 end to end ({main}) within 2x the Kafka floor: {p50:.1f} ms vs {floor:.1f} ms = "
        f"{p50 / floor:.2f}x -> {'met' if p50 <= 2 * floor else 'missed'}",
        f"- at least 200 tasks/s: best {best:.1f}/s -> {'met' if best >= 200 else 'missed'}",
    ]
    if main == "http" and "kafka" in lat:
        k50 = summary_ms(lat["kafka"]["iteration"])["p50"]
        lines.append(f"- the same over Kafka (no gateway): {k50:.1f} ms = {k50 / floor:.2f}x the floor")
    if "temporal" in lat:
        t50 = summary_ms(lat["temporal"]["iteration"])["p50"]
        tbest = max(
            (p["per_second"] for p in results["throughput"].get("Temporal", {}).values()), default=0.0
        )
        lines.append(
            f"- ahead of Temporal in latency: {p50:.1f} ms vs {t50:.1f} ms (Troupe/Temporal {p50 / t50:.2f}x) -> "
            f"{'met' if p50 < t50 else 'missed'}"
        )
        if main == "http" and "kafka" in lat:
            k50 = summary_ms(lat["kafka"]["iteration"])["p50"]
            lines.append(
                f"- over Kafka (no gateway): {k50:.1f} ms vs {t50:.1f} ms (Troupe/Temporal {k50 / t50:.2f}x)"
            )
        lines.append(
            f"- ahead of Temporal in throughput: {best:.1f}/s vs {tbest:.1f}/s "
            f"(Troupe/Temporal {best / tbest if tbest else float('nan'):.2f}x) -> {'met' if best > tbest else 'missed'}"
        )
    return lines


def text_report(results: Results) -> str:
    parts = [
        "Latency, one task at a time",
        *latency_table(results),
        "",
        "Throughput, tasks finished per second (closed loop)",
        *throughput_table(results),
        "",
        "CPU per finished task, ms",
        *cpu_table(results),
        "",
        "Resident memory per process",
        *memory_table(results),
        "",
        "What the design's parts allow",
        *parts_table(results),
        "",
        "Targets",
        *targets(results),
    ]
    return "\n".join(parts)


def write_plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels, p50s, p99s = [], [], []
    for key, _ in LATENCY_ROWS:
        for case, case_label in CASES:
            samples = results["latency"].get(key, {}).get(case)
            if samples:
                s = summary_ms(samples)
                labels.append(f"{key}\n{case_label.split(' (')[0]}")
                p50s.append(s["p50"])
                p99s.append(s["p99"])
    x = range(len(labels))
    left.bar([i - 0.2 for i in x], p50s, width=0.4, label="p50")
    left.bar([i + 0.2 for i in x], p99s, width=0.4, label="p99")
    left.set_xticks(list(x), labels, fontsize=7)
    left.set_ylabel("ms")
    left.set_title("End-to-end latency, one task at a time")
    left.legend()
    for name, run in results["throughput"].items():
        levels = sorted(int(c) for c in run)
        right.plot(levels, [run[str(c)]["per_second"] for c in levels], marker="o", label=name)
    right.set_xscale("log")
    right.set_xlabel("tasks in flight")
    right.set_ylabel("tasks finished / s")
    right.set_title("Throughput")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tuning_table(results: Results) -> list[str]:
    steps = [s for s in results.get("tuning_steps", []) if "kafka_p50_ms" in s]
    if not steps:
        return ["(no tuning steps recorded: `python -m bench.ab LABEL VAR=VALUE ...`)"]
    lines = [
        "| step | settings | floor p50 ms | Kafka e2e p50 ms | tasks/s at 100 | workers' CPU under load | idle CPU | load avg |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for s in steps:
        settings = (
            ", ".join(f"`{k.removeprefix('TROUPE_KAFKA_')}={v}`" for k, v in s["settings"].items())
            or "defaults"
        )
        busy = sum(v for k, v in s.get("load_cpu", {}).items() if _is_worker(k))
        idle = (
            sum(v for k, v in s.get("idle_cpu", {}).items() if _is_worker(k))
            if "idle_cpu" in s
            else float("nan")
        )
        lines.append(
            f"| {s['label']} | {settings} | {_fmt(s['floor_p50_ms'])} | {_fmt(s['kafka_p50_ms'])} "
            f"| {s['tasks_per_s_at_100']:.1f} | {busy:.2f} | {_fmt(idle) if idle == idle else '-'} "
            f"| {s.get('load_before', 0):.1f} -> {s.get('load_after', 0):.1f} |"
        )
    return lines


def _load(results: Results) -> str:
    load = results.get("load_average")
    return f"{load['min']:.1f} to {load['max']:.1f} (mean {load['mean']:.1f})" if load else "not recorded"


def markdown(results: Results, command: str) -> str:
    m = results["machine"]
    settings = "\n".join(f"| `{k}` | `{v}` |" for k, v in sorted(results["settings"].items()))
    notes = "\n".join(f"- {n}" for n in results.get("notes", []))
    return f"""# Benchmarks

Generated by `{command}` ({results["started_at"]}, {results["duration_s"]:.0f} s); figures are that run's
output, not edited. Raw samples: `{results.get("raw_path", "")}` (git-ignored).

## Machine
| | |
| --- | --- |
| CPU | {m["cpu"]} ({m["cores"]} cores) |
| memory | {m["memory"]} |
| kernel | {m["kernel"]} |
| Python | {m["python"]} |
| Java (Kafka broker) | {m["java"]} |
| Kafka | 4.1.2, one KRaft node, local disk |
| MongoDB-wire store | FerretDB 1.24.2, SQLite backend |
| Temporal | CLI {results.get("temporal_version", "-")} {results.get("temporal_server", "")} `server start-dev`, state in memory, temporalio {results.get("temporalio_version", "-")}; the CLI build from the module proxy took {results.get("temporal_build_s", "-")} s |

The whole stack (broker, store, services, LLM stub, the load generator, Temporal) shares these cores, and so
did other work on the machine: the 1-minute load average during the run was {_load(results)}.

## What is measured
- **Task**: "add one and one". The instant scripted LLM (`bench/llm.py`, its own process) plans one `math`
  step (`1+1`) and approves; for the revision case it asks for one revision first. So a task is two LLM
  calls, one real tool run, the stage ledger writes and every Kafka hand-over of a production task.
- **Latency**: one task at a time, p50/p95/p99 (nearest rank).
  `http` is POST /tasks until GET /tasks/{{id}} shows the final status (polling every 20 ms, so up to 20 ms of each figure is sampling);
  `kafka` is publishing `task.submitted` until `task.finished` is consumed.
- **Floor**: the same number of Kafka hops as a task's critical path (4 for one iteration: submitted, plan,
  execution, finished; 7 with one revision) relayed by plain aiokafka consumers/producers with the services'
  settings (acks=all without idempotence, same fetch wait, same partitions), nothing else done per hop.
- **Throughput**: a closed loop keeping N tasks in flight over Kafka; tasks that finish inside the
  measuring window (after a warm-up) per second. Troupe with one and with two replicas of each worker.
- **Temporal**: the same loop as one workflow with activities `plan`, `execute`, `review` doing the same
  work (same LLM stub through the same `openai` client, same models, same math evaluator), worker in the
  load generator's process, dev server built from the Go module proxy (`infra/temporal.sh`).

## Latency, one task at a time
{chr(10).join(latency_table(results))}

## Throughput: tasks finished per second
{chr(10).join(throughput_table(results))}

## Where a task's CPU goes
Milliseconds of CPU per finished task, by process: each process's share of a core over a throughput phase
divided by that phase's tasks per second (approximate: a phase also holds its warm-up and drain). On two
cores, the sum bounds the throughput at about 2000 / sum tasks per second.

{chr(10).join(cpu_table(results))}

## Resident memory per service
{chr(10).join(memory_table(results))}

## What the design's parts allow
Whatever the services do around them, one iteration of a task cannot skip these parts (`bench/bounds.py`
lists them and why): two LLM calls through the `openai` client, a ledger look-up before each stage's work and a
ledger record before each stage's publish, the Kafka hand-overs the floor measures with each event encoded and
decoded once, and through the gateway an HTTP request each way, the projection's write and the read that shows
it. `bench/parts.py` measured each alone in this run, on the same servers: its latency one use at a time, and
its CPU per use the cheapest way it found (16 LLM calls in flight; records written 100 to a query; look-ups one
by id, 16 at once, as FerretDB scans the collection for a query by many ids; events 64 in flight, committed a
batch at a time), in this process and in the server it talks to. Adding up only these parts gives the best any
implementation of this design could do here, before logs, spans, frameworks or the handlers' own work cost
anything.

{chr(10).join(parts_table(results))}

## Targets (2-core machine)
{chr(10).join(targets(results))}

![latency and throughput](benchmarks.png)

## Tuning steps
Quick A/B runs (`python -m bench.ab`), each on a fresh deployment: the 4-hop floor, the serial latency over
Kafka (60 tasks), tasks/s at 100 in flight (8 s window); CPU in cores summed over the three workers. Each is
one short run on a shared machine, so read differences smaller than the load-average swing as noise.

{chr(10).join(tuning_table(results))}

## Settings of this run
| variable | value |
| --- | --- |
{settings}

## Notes
{notes}
"""


def _is_worker(process: str) -> bool:
    # Names like "planner_svc#1"; the tuning table sums the workers only (not the gateway, servers or stub).
    return process.split("#")[0] in WORKERS
