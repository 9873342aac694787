"""The benchmark's bounds: what the design's parts, measured alone, allow at best."""

from __future__ import annotations

import pytest

from bench.bounds import CODEC, EVENT, HTTP, LLM_CALL, LOOKUP, RECORD, bounds
from bench.report import design_bounds, parts_table

P50_MS = {LLM_CALL: 3.0, LOOKUP: 1.0, RECORD: 0.5, HTTP: 2.0}
CPU_MS = {
    LLM_CALL: {"client": 2.5, "llm": 0.5},
    LOOKUP: {"client": 0.25, "ferretdb": 0.25},
    RECORD: {"client": 0.05, "ferretdb": 0.05},
    EVENT: {"client": 0.1, "kafka broker": 0.1},
    CODEC: {"client": 0.05},
}


def test_latency_adds_the_parts_a_task_waits_for_one_after_another() -> None:
    found = bounds(P50_MS, CPU_MS, floor_ms=8.0, cores=2)
    # floor, two LLM calls, a look-up per stage, plan + execution + review + end recorded
    assert found.kafka_ms == pytest.approx(8.0 + 2 * 3.0 + 3 * 1.0 + 4 * 0.5)
    # then POST and GET, the projection's write and the GET's read
    assert found.http_ms == pytest.approx(found.kafka_ms + 2 * 2.0 + 1.0 + 0.5)


def test_throughput_is_the_cores_over_the_parts_cpu_a_task_needs() -> None:
    found = bounds(P50_MS, CPU_MS, floor_ms=8.0, cores=2)
    cpu = 2 * 3.0 + 3 * 0.5 + 5 * 0.1 + 5 * 0.2 + 5 * 0.05
    assert found.cpu_ms == pytest.approx(cpu)
    assert found.tasks_per_s == pytest.approx(2000 / cpu)
    # the stub stands in for a provider, whose CPU is not on this machine in production
    assert found.stub_cpu_ms == pytest.approx(1.0)
    assert found.tasks_per_s_without_stub == pytest.approx(2000 / (cpu - 1.0))


def test_a_run_without_measured_parts_has_no_bounds() -> None:
    results = {"latency": {"floor": {"iteration": [0.008]}}, "machine": {"cores": "2"}, "throughput": {}}
    assert design_bounds(results) is None
    assert parts_table(results) == ["(this run did not measure the parts)"]


def test_the_report_states_the_bounds_of_a_runs_parts() -> None:
    parts = {
        name: {
            **({"latency": [P50_MS[name] / 1000]} if name in P50_MS else {}),
            **({"cpu_ms": CPU_MS[name]} if name in CPU_MS else {}),
        }
        for name in (CODEC, LLM_CALL, RECORD, LOOKUP, EVENT, HTTP)
    }
    results = {
        "parts": parts,
        "latency": {"floor": {"iteration": [0.008]}},
        "machine": {"cores": "2"},
        "throughput": {"Troupe, 1 replica(s) per worker": {"10": {"per_second": 30.0}}},
    }
    text = "\n".join(parts_table(results))
    assert "**19.0 ms** (2.38x the floor)" in text  # 8 + 6 + 3 + 2
    assert "**24.5 ms**" in text
    assert "at most **216 tasks/s** on 2 cores" in text  # 2000 / 9.25
    assert "30.0 tasks/s at best" in text
