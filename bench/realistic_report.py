"""The realistic-latency run's figures: tables, the "Realistic latency" section of docs/benchmarks.md, a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.llm import HANG_S, PLANNER_MODEL, REVIEWER_MODEL

__all__ = ["HEADING", "keep_section", "replace_section", "section", "text", "write"]

Results = dict[str, Any]
HEADING = "## Realistic latency"
PLOT = "benchmarks-realistic.png"
ROLE_MODELS = {"planner_svc": PLANNER_MODEL, "reviewer_svc": REVIEWER_MODEL}


def replace_section(document: str, heading: str, body: str) -> str:
    """`document` with the section under `heading` (up to the next heading of its level) replaced by `body`,
    which starts with the heading; appended at the end if there was none."""
    level = heading.split(" ", 1)[0] + " "
    lines = document.splitlines()
    if heading not in lines:
        return document.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(level)), len(lines))
    kept_after = ["", *lines[end:]] if end < len(lines) else []
    return "\n".join([*lines[:start], *body.rstrip("\n").splitlines(), *kept_after]) + "\n"


def keep_section(old: str, new: str, heading: str) -> str:
    """`new`, carrying over `old`'s section under `heading` when `new` has none (a run that did not measure
    it must not erase it)."""
    lines = old.splitlines()
    if heading in new.splitlines() or heading not in lines:
        return new
    level = heading.split(" ", 1)[0] + " "
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(level)), len(lines))
    return replace_section(new, heading, "\n".join(lines[start:end]))


def _s(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def _peak(values: dict[str, float | None] | None, name: str) -> str:
    value = (values or {}).get(name)
    return "not exposed" if value is None else f"{value:.0f}"


def r1_table(results: Results) -> list[str]:
    lines = [
        "| system | tasks at once | ended | makespan s | tasks/s | p50 s | p95 s | LLM calls in flight, peak "
        "| CPU ms per task, services / all processes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for system, run in results["r1"].items():
        for count in sorted(run, key=int):
            lines.append(_burst_row(system, count, run[count]))
    return lines


def _burst_row(system: str, count: str, phase: Results) -> str:
    cpu = phase.get("cpu_ms_per_task")
    services = sum(ms for name, ms in (cpu or {}).items() if name in phase.get("rss_mib_peak", {}))
    return (
        f"| {system} | {count} | {phase['finished']} | {_s(phase['makespan_s'])} | {phase['tasks_per_s']:.2f} "
        f"| {_s(phase['p50_s'])} | {_s(phase['p95_s'])} | {phase['llm']['peak_in_flight']} "
        f"| {f'{services:.1f} / {sum(cpu.values()):.1f}' if cpu else '-'} |"
    )


def services_table(results: Results) -> list[str]:
    """Per service and burst: events in flight at most (the services' gauge), the LLM calls of its role in
    flight at most (the stub's count, all replicas together), RSS at most, CPU per task."""
    lines = [
        "| burst | process | events in flight, peak | its role's LLM calls in flight, peak | RSS peak MiB "
        "| CPU ms per task |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label, phase in _troupe_phases(results):
        by_model = phase.get("llm", {}).get("peak_in_flight_by_model", {})
        for name in sorted(phase.get("rss_mib_peak", {})):
            model = ROLE_MODELS.get(name.split("#")[0])
            lines.append(
                f"| {label} | {name} | {_peak(phase.get('events_in_flight_peak'), name)} "
                f"| {by_model.get(model, 0) if model else '-'} "
                f"| {_s(phase['rss_mib_peak'][name])} | {_s(phase['cpu_ms_per_task'].get(name))} |"
            )
    return lines


def _troupe_phases(results: Results) -> list[tuple[str, Results]]:
    phases = [
        (f"r1, {count} tasks, {system.removeprefix('Troupe, ')}", run[count])
        for system, run in results["r1"].items()
        if system.startswith("Troupe")
        for count in sorted(run, key=int)
    ]
    if "r2" in results:
        phases.append(("r2, python_exec", results["r2"]))
    if "head_of_line" in results:
        phases.append(("head of line", results["head_of_line"]))
    return phases


def r2_lines(results: Results) -> list[str]:
    if "r2" not in results:
        return ["(not run)"]
    phase, sandbox = results["r2"], results["r2"]["sandbox"]
    misses = [
        f"- A step the reviewer saw without a finished run: `{m[:300]}`"
        for m in sandbox.get("misses_shown", [])
    ]
    return [
        "| tasks at once | ended | succeeded | makespan s | tasks/s | p50 s | p95 s | sandbox runs | started per s "
        "| most started in 1 s | most running at once | backend |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| {phase['tasks']} | {phase['finished']} | {phase.get('succeeded', '-')} | {_s(phase['makespan_s'])} | {phase['tasks_per_s']:.2f} "
        f"| {_s(phase['p50_s'])} | {_s(phase['p95_s'])} | {sandbox['runs']} | {sandbox['started_per_s']:.2f} "
        f"| {sandbox['most_started_in_1_s']} | {sandbox['peak_running']} | {', '.join(sandbox['backends'])} |",
        *misses[:1],
    ]


def head_of_line_lines(results: Results) -> list[str]:
    if "head_of_line" not in results:
        return ["(not run)"]
    found = results["head_of_line"]["head_of_line"]
    returned = found["hung_returned_after_s"]
    return [
        f"- The hung planner call returned {_s(returned)} s after its task was published"
        + ("" if returned is not None else " (it had not returned when the run stopped waiting)")
        + f"; its partition {found['partition']} of {found['partitions']} also carried the {found['others']} others.",
        f"- **{found['ended_before_hung_returned']} of {found['others']}** other tasks ended before it returned "
        f"-> {'no task waited for it' if found['nobody_waited'] else 'tasks waited behind it'}.",
        f"- The others' makespan: {_s(found['others_makespan_s'])} s (p50 {_s(found['others_p50_s'])} s).",
    ]


def text(results: Results) -> str:
    return "\n".join(
        [
            f"Realistic latency: every LLM call takes {results['llm_delay_s']} s",
            *r1_table(results),
            "",
            "Per service",
            *services_table(results),
            "",
            "r2: python_exec sleeping 1 s in the sandbox",
            *r2_lines(results),
            "",
            "Head of line",
            *head_of_line_lines(results),
        ]
    )


def section(results: Results) -> str:
    m = results["machine"]
    settings = ", ".join(f"`{k}={v}`" for k, v in sorted(results["settings"].items()))
    notes = "".join(f"- {n}\n" for n in results.get("notes", []))
    notes = f"Notes:\n{notes}" if notes else ""
    return f"""{HEADING}
Generated by `{results["command"]}` ({results["started_at"]}, {results["duration_s"]:.0f} s, {m["cores"]}
cores); raw results `{results.get("raw_path", "")}`. Settings: {settings}.

Tasks are published onto `task.submitted` all at once; the scripted LLM (`bench/llm.py`) answers every call
after {results["llm_delay_s"]} s and counts the calls it is answering at once. Makespan runs from the first
publication to the last `task.finished`; p50/p95 are per task, from its publication to its end. Events in
flight are read from each service's `troupe_events_in_flight` gauge (`bench/in_flight.py`); "not exposed"
means the service does not serve it. CPU per task is each process's CPU over the burst over the tasks that
ended; "all processes" adds the broker, FerretDB, the LLM stub and the load generator, and the broker and
FerretDB serve whatever else runs on the machine too.

### r1: one `math` step, N tasks at once
{chr(10).join(r1_table(results))}

### Per service
{chr(10).join(services_table(results))}

### r2: a python_exec step sleeping 1 s in the sandbox
{chr(10).join(r2_lines(results))}

### Head of line: one planner call hangs {HANG_S:.0f} s, the others share its partition
{chr(10).join(head_of_line_lines(results))}

![realistic latency]({PLOT})

{notes}"""


def write(results: Results, docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    path = docs / "benchmarks.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    path.write_text(replace_section(old, HEADING, section(results)))
    write_plot(results, docs / PLOT)


def write_plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for system, run in results["r1"].items():
        counts = sorted(int(c) for c in run)
        left.plot(counts, [run[str(c)]["tasks_per_s"] for c in counts], marker="o", label=system)
        right.plot(counts, [run[str(c)]["llm"]["peak_in_flight"] for c in counts], marker="o", label=system)
    left.set_xlabel("tasks published at once")
    left.set_ylabel("tasks ended / s over the makespan")
    left.set_title(f"r1, every LLM call {results['llm_delay_s']} s")
    right.set_xlabel("tasks published at once")
    right.set_ylabel("LLM calls in flight, peak")
    right.set_title("Concurrency reaching the LLM")
    for axis in (left, right):
        axis.set_ylim(bottom=0)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
