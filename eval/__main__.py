"""`python -m eval` (what `make eval` runs): fetch the pinned projects, unpack them into a throwaway folder,
start the services against the shared Kafka and database, ask every case in eval/cases.toml, score, and write
docs/eval.md.

--mode offline (the default): no LLM; the offline planner reads the task and the offline reviewer checks the
output's form. --mode scripted: bench/llm.py plans the code_analyzer step and approves a found path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shlex
import shutil
import signal
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report as bench_report
from bench.pipeline_load import kafka_door
from bench.stack import REPO, Stack
from eval import drive, projects, report
from eval.cases import CaseFile, Project, load_cases
from schemas import Topics
from toolbox.code_analyzer.tool import find_sources
from troupe.settings import Settings

SOURCES = {"pypi": (".py",), "npm": (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx")}
WARM_UP = f"Give me the call sequence from main to process_data in {REPO / 'samples' / 'callchain_app'}"


def say(message: str) -> None:
    load = float(Path("/proc/loadavg").read_text().split()[0])
    print(f"==> eval: {message} (load {load:.1f})", flush=True)


def chosen(cases: CaseFile, only: list[str]) -> CaseFile:
    """The cases whose id or project is in `only` (all when it is empty)."""
    if not only:
        return cases
    kept = [c for c in cases.case if c.id in only or c.project in only]
    if not kept:
        raise SystemExit(f"no case or project is called {', '.join(only)}")
    names = {c.project for c in kept}
    return CaseFile(project=[p for p in cases.project if p.name in names], case=kept)


def prepare(cases: CaseFile, into: Path) -> dict[str, Path]:
    """Each project's root on disk, fetched into the cache if need be and unpacked under `into`."""
    roots = {}
    for project in cases.project:
        say(f"{project.key} from {project.registry}")
        roots[project.name] = projects.unpack(projects.fetch(project), into / project.key).resolve()
    return roots


def described(project: Project, root: Path) -> dict[str, Any]:
    return {**project.model_dump(), "files": len(find_sources(root, SOURCES[project.registry]))}


async def ask_all(
    stack: Stack, cases: CaseFile, roots: dict[str, Path], limit_s: float
) -> list[dict[str, Any]]:
    settings = Settings()
    answers = []
    async with kafka_door(
        settings.kafka_bootstrap_servers, Topics(stack.prefix), settings.kafka_fetch_max_wait_ms
    ) as door:
        done, sent = await door.publish(f"eval-warm-{uuid.uuid4().hex[:8]}", WARM_UP)
        await sent
        warm = await asyncio.wait_for(done, limit_s)
        say(f"warm-up task {warm.status.value}")
        for case in cases.case:
            stack.check()
            answer = await drive.ask(door, case, roots[case.project], limit_s)
            say(f"{case.id}: {'right' if answer.right else 'WRONG'} in {answer.seconds:.1f} s {answer.why}")
            answers.append(answer.as_dict())
        await door.settle(30)
    return answers


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description=__doc__)
    p.add_argument("--mode", choices=("offline", "scripted"), default="offline")
    p.add_argument("--only", action="append", default=[], help="a case id or project name (repeatable)")
    p.add_argument("--limit", type=float, default=180, help="seconds the harness waits for one task")
    p.add_argument("--docs", type=Path, default=REPO / "docs", help="where eval.md goes")
    p.add_argument("--no-docs", action="store_true", help="print and save raw results only")
    p.add_argument("--note", action="append", default=[], help="a line for the report's notes")
    p.add_argument("--render", type=Path, metavar="RESULTS_JSON", help="only re-render a saved run's report")
    p.add_argument("--fetch-only", action="store_true", help="download the archives into the cache and stop")
    return p


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    args = parser().parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        saved["notes"] = [*saved.get("notes", []), *args.note]
        notes = {c.id: c.note for c in load_cases().case}
        for answer in saved["answers"]:
            answer["note"] = notes.get(answer["case"], answer.get("note", ""))
        report.write(saved, args.docs)
        return 0
    cases = chosen(load_cases(), args.only)
    if args.fetch_only:
        for project in cases.project:
            say(f"{project.key}: {projects.fetch(project)}")
        return 0
    started, clock = datetime.now(UTC), time.monotonic()
    run_id = uuid.uuid4().hex[:8]
    out_dir = REPO / ".troupe" / "eval" / f"{started:%Y%m%dT%H%M%S}-{run_id}"
    unpacked = out_dir / "projects"
    roots = prepare(cases, unpacked)
    settings = Settings()
    # The unpacked projects are the only folder tasks may read besides their workspace (and the warm-up's sample).
    readable = json.dumps([str(unpacked.resolve()), str(REPO / "samples")])
    stack = Stack(
        run_id, out_dir, settings.kafka_bootstrap_servers, settings.mongodb_uri,
        {"TROUPE_EXECUTOR_READ_ONLY_ROOTS": readable},
    )  # fmt: skip
    results: dict[str, Any] = {
        "started_at": f"{started:%Y-%m-%d %H:%M} UTC",
        "command": shlex.join(["python", "-m", "eval", *argv]),
        "mode": args.mode,
        "machine": bench_report.machine(),
        "limit_s": args.limit,
        "projects": [described(p, roots[p.name]) for p in cases.project],
        "notes": list(args.note),
    }
    say(f"run {run_id}: {len(cases.case)} cases; logs and raw results in {out_dir}")
    loads = []
    try:
        if args.mode == "scripted":
            stack.start_llm()
        stack.start_workers(1)
        loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
        results["answers"] = asyncio.run(ask_all(stack, cases, roots, args.limit))
        loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
    finally:
        stack.stop()
        shutil.rmtree(unpacked, ignore_errors=True)
        results["duration_s"] = time.monotonic() - clock
        results["load"] = " to ".join(f"{load:.1f}" for load in loads) or "?"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(results, indent=1))
    raw = out_dir / "results.json"
    results["raw_path"] = str(raw.relative_to(REPO))
    raw.write_text(json.dumps(results, indent=1))
    s = report.summary(results["answers"])
    say(
        f"{s['right']}/{s['cases']} right ({100 * s['share']:.0f} %), p50 {s['p50_s']:.1f} s, "
        f"max {s['max_s']:.1f} s; took {results['duration_s']:.0f} s"
    )
    if not args.no_docs:
        say(f"wrote {report.write(results, args.docs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
