"""Deterministic checks of each succeeded step's output: the evidence a verdict rests on, model or no model.

Each check gives a Finding: ok, failed (the output contradicts itself or the step's arguments, or is empty
where the task asked for something) or unverifiable (the output lacks what the check needs). The results
given must carry whole outputs, read back from their artefacts, so that a claimed call path is checked
against the whole graph and not an excerpt.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from schemas import Finding, FindingStatus, Plan, PlanStep, StepResult, StepStatus

__all__ = ["VERIFIED_TOOLS", "blocking", "verify"]

# Evidence lists (edges checked, paths that miss an endpoint) are cut to this many items, and counted.
MAX_EVIDENCE_ITEMS = 20

Checker = Callable[[PlanStep, StepResult, Mapping[str, Any]], Iterable[Finding]]


def verify(plan: Plan, results: Sequence[StepResult]) -> list[Finding]:
    """Findings for every succeeded step whose tool has checks, in the order of the results."""
    steps = {step.id: step for step in plan.steps}
    findings: list[Finding] = []
    for result in results:
        step, checker = steps.get(result.step_id), _CHECKERS.get(result.tool)
        if step is None or checker is None or result.status is not StepStatus.SUCCEEDED:
            continue
        if not isinstance(result.output, Mapping):
            findings.append(_finding(result, "output", FindingStatus.UNVERIFIABLE, _missing(result)))
            continue
        findings.extend(checker(step, result, result.output))
    return findings


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that keep a task from being approved: failed or unverifiable."""
    return [f for f in findings if f.status is not FindingStatus.OK]


def _missing(result: StepResult) -> str:
    if result.artefact is not None and result.output is None:
        return f"the output kept as artefact {result.artefact.id} could not be read back"
    return f"the output is not a JSON object of {result.tool}'s result form"


def _code_analyzer(step: PlanStep, result: StepResult, output: Mapping[str, Any]) -> Iterable[Finding]:
    paths = output.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, list) and p for p in paths):
        yield _finding(result, "paths_found", FindingStatus.UNVERIFIABLE, "the output has no list of paths")
        return
    asked = {k: v for k in ("source", "target") if isinstance(v := step.args.get(k), str)}
    if not paths:
        wanted = " to ".join(f"{k} {v!r}" for k, v in asked.items()) or "the requested functions"
        yield _finding(
            result,
            "paths_found",
            FindingStatus.FAILED,
            f"no call path was found ({wanted}): an empty result answers nothing",
            sources=output.get("sources"),
            targets=output.get("targets"),
        )
        return
    yield _finding(result, "paths_found", FindingStatus.OK, f"{len(paths)} call paths claimed")
    yield _path_edges(result, paths, output.get("graph"))
    yield from _endpoints(result, paths, asked)


def _path_edges(result: StepResult, paths: list[list[Any]], graph: object) -> Finding:
    edges = graph.get("edges") if isinstance(graph, Mapping) else None
    if not isinstance(edges, list):
        return _finding(result, "path_edges", FindingStatus.UNVERIFIABLE, "the output has no call graph")
    known = {(e.get("caller"), e.get("callee")) for e in edges if isinstance(e, Mapping)}
    claimed = list(dict.fromkeys(pair for path in paths for pair in itertools.pairwise(path)))
    absent = [pair for pair in claimed if pair not in known]
    evidence = {
        "edges_checked": _listed(claimed),
        "edges_checked_count": len(claimed),
        "graph_edges_count": len(edges),
    }
    if absent:
        shown = ", ".join(f"{a} -> {b}" for a, b in absent[:5])
        return _finding(
            result,
            "path_edges",
            FindingStatus.FAILED,
            f"{len(absent)} of {len(claimed)} edges of the claimed paths are not in the call graph: {shown}",
            **evidence,
            edges_absent=_listed(absent),
        )
    return _finding(
        result,
        "path_edges",
        FindingStatus.OK,
        f"all {len(claimed)} edges of the claimed paths are in the call graph",
        **evidence,
    )


def _endpoints(result: StepResult, paths: list[list[Any]], asked: Mapping[str, str]) -> Iterable[Finding]:
    """Each path starts at the requested source and ends at the requested target (as the tool matches names)."""
    for role, end in (("source", 0), ("target", -1)):
        name = asked.get(role)
        if name is None or "{{" in name:  # not requested, or filled in from an earlier step's output
            continue
        off = [p for p in paths if not _names(str(p[end]), name)]
        status = FindingStatus.FAILED if off else FindingStatus.OK
        detail = (
            f"{len(off)} of {len(paths)} paths do not {'start' if end == 0 else 'end'} at the {role} {name!r}"
            if off
            else f"every path {'starts' if end == 0 else 'ends'} at the {role} {name!r}"
        )
        yield _finding(result, role, status, detail, requested=name, paths_off=_listed(off))


def _names(qualified: str, name: str) -> bool:
    """Whether `name` ('main', 'main()', 'app.cli:main') stands for `qualified`, as code_analyzer matches it."""
    wanted = name.strip().removesuffix("()").replace(":", ".")
    return qualified == wanted or qualified.endswith("." + wanted)


def _python_exec(step: PlanStep, result: StepResult, output: Mapping[str, Any]) -> Iterable[Finding]:
    timed_out = output.get("timed_out", False)
    if timed_out:
        yield _finding(result, "timeout", FindingStatus.FAILED, "the run was stopped at its time limit")
    else:
        yield _finding(result, "timeout", FindingStatus.OK, "the run ended on its own")
    code = output.get("exit_code")
    if not isinstance(code, int) or isinstance(code, bool):
        yield _finding(result, "exit_code", FindingStatus.UNVERIFIABLE, "the output has no exit code")
    elif code != 0:
        stderr = str(output.get("stderr") or "")[-300:]
        yield _finding(
            result, "exit_code", FindingStatus.FAILED, f"exited with code {code}: {stderr}", exit_code=code
        )
    else:
        yield _finding(result, "exit_code", FindingStatus.OK, "exited with code 0", exit_code=code)


def _http_client(step: PlanStep, result: StepResult, output: Mapping[str, Any]) -> Iterable[Finding]:
    status = output.get("status_code")
    url = output.get("url", step.args.get("url"))
    if not isinstance(status, int) or isinstance(status, bool):
        yield _finding(result, "status", FindingStatus.UNVERIFIABLE, "the output has no status code", url=url)
    elif 200 <= status < 400:
        yield _finding(result, "status", FindingStatus.OK, f"HTTP {status}", status_code=status, url=url)
    else:
        yield _finding(
            result, "status", FindingStatus.FAILED, f"HTTP {status} from {url}", status_code=status, url=url
        )


def _file_operations(step: PlanStep, result: StepResult, output: Mapping[str, Any]) -> Iterable[Finding]:
    op, path = output.get("op"), output.get("path")
    shown: dict[str, tuple[str, Callable[[Any], int]]] = {
        "read": ("content", lambda c: len(c.encode())),
        "list": ("entries", len),
        "search": ("matches", len),
    }
    if op == "write":
        yield _written(step, result, output.get("bytes_written"), path)
    elif op in shown:
        key, size = shown[str(op)]
        value = output.get(key)
        if not isinstance(value, str | list):
            yield _finding(result, "exists", FindingStatus.UNVERIFIABLE, f"the {op} result has no {key}")
        else:
            unit = "bytes" if op == "read" else key
            yield _finding(
                result,
                "exists",
                FindingStatus.OK,
                f"{path} exists: {size(value):,} {unit}"
                + (" (cut short)" if output.get("truncated") else ""),
                path=path,
                size=size(value),
                unit=unit,
            )
    else:
        yield _finding(result, "exists", FindingStatus.UNVERIFIABLE, f"unknown operation {op!r}")


def _written(step: PlanStep, result: StepResult, written: object, path: object) -> Finding:
    content = step.args.get("content")
    if not isinstance(written, int) or isinstance(written, bool):
        return _finding(result, "size", FindingStatus.UNVERIFIABLE, "the write result has no byte count")
    if not isinstance(content, str) or "{{" in content:  # filled in from an earlier step: no length to expect
        return _finding(
            result, "size", FindingStatus.OK, f"{written:,} bytes written to {path}", size=written
        )
    expected = len(content.encode())
    status = FindingStatus.OK if written == expected else FindingStatus.FAILED
    return _finding(
        result,
        "size",
        status,
        f"{written:,} bytes written to {path}, {expected:,} asked for",
        path=path,
        size=written,
        expected=expected,
    )


def _math(step: PlanStep, result: StepResult, output: Mapping[str, Any]) -> Iterable[Finding]:
    value = output.get("value")
    if isinstance(value, bool) or (isinstance(value, int | float) and math.isfinite(value)):
        yield _finding(result, "finite", FindingStatus.OK, f"the value {value!r} is finite", value=value)
    else:
        yield _finding(
            result,
            "finite",
            FindingStatus.FAILED,
            f"the value {value!r} is not a finite number",
            value=str(value),
        )


_CHECKERS: dict[str, Checker] = {
    "code_analyzer": _code_analyzer,
    "python_exec": _python_exec,
    "http_client": _http_client,
    "file_operations": _file_operations,
    "math": _math,
}
VERIFIED_TOOLS = frozenset(_CHECKERS)


def _finding(result: StepResult, check: str, status: FindingStatus, detail: str, **evidence: Any) -> Finding:
    if result.artefact is not None:
        evidence["artefact_id"] = result.artefact.id
    return Finding(
        id=f"{result.step_id}:{check}",
        step_id=result.step_id,
        tool=result.tool,
        check=check,
        status=status,
        detail=detail[:2_000],
        evidence={k: v for k, v in evidence.items() if v is not None},
    )


def _listed(items: Sequence[Any]) -> list[JsonValue]:
    """At most MAX_EVIDENCE_ITEMS items, each edge as [caller, callee] and each path as its names."""
    return [list(i) for i in items[:MAX_EVIDENCE_ITEMS]]
