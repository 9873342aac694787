"""The realistic-latency benchmark's own logic: burst figures, partition choice, the LLM stub's counters, the
in-flight gauge's parsing and the report's section in docs/benchmarks.md."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench.burst import TaskTiming, burst_figures, head_of_line, peak_overlap, rates
from bench.in_flight import IN_FLIGHT_SERIES, Peaks, gauge_sum
from bench.llm import (
    HANG_MARKER,
    PLANNER_MODEL,
    REVIEWER_MODEL,
    SANDBOX_MARKER,
    InFlight,
    hangs,
    plan_for,
    sandbox_run,
)
from bench.partitions import keys_on_partition, partition_of
from bench.realistic import callable_burst, without_notes
from bench.realistic_report import HEADING, keep_section, replace_section, services_table
from bench.report import percentile


def ended(task_id: str, submitted: float, after_s: float) -> TaskTiming:
    return TaskTiming(task_id, submitted, submitted + after_s, "succeeded")


def test_a_burst_runs_from_the_first_publication_to_the_last_end() -> None:
    timings = [ended(str(i), 100.0 + i / 10, 1.0 + i) for i in range(10)]
    figures = burst_figures(timings)
    assert figures.makespan_s == pytest.approx(0.9 + 10.0)
    assert figures.tasks_per_s == pytest.approx(10 / 10.9)
    # nearest rank over 1..10 s
    assert figures.p50_s == pytest.approx(5.0)
    assert figures.p95_s == pytest.approx(10.0)
    assert (figures.finished, figures.succeeded) == (10, 10)


def test_tasks_that_never_ended_count_in_the_burst_but_not_in_its_rate() -> None:
    timings = [ended("a", 0.0, 2.0), ended("b", 0.0, 4.0), TaskTiming("c", 0.0)]
    figures = burst_figures(timings)
    assert (figures.tasks, figures.finished) == (3, 2)
    assert figures.makespan_s == 4.0
    assert figures.tasks_per_s == 0.5


def test_a_burst_where_nothing_ended_has_no_rate() -> None:
    figures = burst_figures([TaskTiming("a", 5.0)])
    assert (figures.makespan_s, figures.tasks_per_s, figures.finished) == (0.0, 0.0, 0)
    assert figures.p50_s != figures.p50_s  # nan


def test_head_of_line_counts_the_tasks_that_ended_before_the_hung_call_returned() -> None:
    others = [ended("a", 0.0, 3.0), ended("b", 0.0, 59.0), ended("c", 0.0, 61.0), TaskTiming("d", 0.0)]
    found = head_of_line(others, hung_returned=60.0)
    assert (found.others, found.ended_before_hung_returned, found.nobody_waited) == (4, 2, False)
    assert found.others_figures.makespan_s == 61.0


def test_nobody_waited_when_every_other_task_ended_first() -> None:
    found = head_of_line([ended("a", 0.0, 3.0), ended("b", 0.0, 5.0)], hung_returned=60.0)
    assert found.nobody_waited


def test_a_hung_call_that_never_returned_held_up_only_the_tasks_that_never_ended() -> None:
    found = head_of_line([ended("a", 0.0, 3.0), TaskTiming("b", 0.0)], hung_returned=None)
    assert found.ended_before_hung_returned == 1
    assert not found.nobody_waited


def test_peak_overlap_counts_runs_open_at_one_instant() -> None:
    assert peak_overlap([]) == 0
    assert peak_overlap([(0, 1), (1, 2), (2, 3)]) == 1  # one ends as the next starts
    assert peak_overlap([(0, 10), (1, 2), (1.5, 3), (5, 6)]) == 3


def test_rates_give_the_mean_start_rate_and_the_busiest_second() -> None:
    assert rates([]) == (0.0, 0)
    assert rates([3.0]) == (0.0, 1)
    mean, most = rates([0.0, 0.1, 0.2, 0.9, 2.0, 4.0])
    assert mean == pytest.approx(5 / 4.0)
    assert most == 4  # 0.0 to 0.9


# Kafka's own test vectors for Utils.murmur2 (clients/src/test/java/.../UtilsTest.java), made positive as the
# default partitioner does.
@pytest.mark.parametrize(
    ("key", "java_murmur2"),
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_keys_land_where_the_java_client_puts_them(key: bytes, java_murmur2: int) -> None:
    for partitions in (1, 3, 8, 12):
        assert partition_of(key, partitions) == (java_murmur2 & 0x7FFFFFFF) % partitions


def test_keys_chosen_for_a_partition_all_land_on_it() -> None:
    keys = keys_on_partition("bench-hol-x", partition=5, partitions=8, wanted=100)
    assert len(set(keys)) == 100
    assert {partition_of(k.encode(), 8) for k in keys} == {5}


def test_the_stub_counts_calls_in_flight_by_model_and_in_all() -> None:
    gauge = InFlight()
    with gauge.held(PLANNER_MODEL), gauge.held(PLANNER_MODEL), gauge.held(REVIEWER_MODEL):
        assert gauge.now == {PLANNER_MODEL: 2, REVIEWER_MODEL: 1}
    with gauge.held(REVIEWER_MODEL):
        pass
    assert gauge.peak == {PLANNER_MODEL: 2, REVIEWER_MODEL: 1}
    assert (gauge.peak_total, gauge.calls) == (3, 4)
    assert gauge.now == {PLANNER_MODEL: 0, REVIEWER_MODEL: 0}


def test_a_reset_starts_the_peaks_from_the_calls_still_in_flight() -> None:
    gauge = InFlight()
    with gauge.held(PLANNER_MODEL):
        with gauge.held(PLANNER_MODEL):
            pass
        gauge.reset()
        assert (gauge.peak, gauge.peak_total, gauge.calls) == ({PLANNER_MODEL: 1}, 1, 0)


def test_only_the_planner_call_of_a_marked_task_hangs() -> None:
    assert hangs(PLANNER_MODEL, f"## Task\nadd one and one {HANG_MARKER}")
    assert not hangs(REVIEWER_MODEL, f"## Task\nadd one and one {HANG_MARKER}")
    assert not hangs(PLANNER_MODEL, "## Task\nadd one and one")


def test_a_sandbox_task_is_planned_as_one_python_exec_step() -> None:
    (step,) = plan_for(f"## Task\nadd one and one {SANDBOX_MARKER}")["steps"]
    assert step["tool"] == "python_exec"
    assert "time.sleep(1.0)" in step["args"]["code"]


def test_the_sandbox_runs_stamps_are_read_from_the_reviewers_prompt() -> None:
    output = json.dumps(
        {
            "stdout": "sandbox-start 1700000000.25\nsandbox-end 1700000001.5\n",
            "exit_code": 0,
            "backend": "bwrap",
        }
    )
    prompt = f"## Step results\n{json.dumps([{'step_id': 'nap', 'output': output}])}"
    assert sandbox_run(prompt) == (1700000000.25, 1700000001.5, "bwrap")
    assert sandbox_run(prompt.replace("bwrap", "other")) == (1700000000.25, 1700000001.5, "?")
    assert sandbox_run("## Step results\n[]") is None


def test_the_in_flight_gauge_is_summed_over_its_series() -> None:
    text = "\n".join(
        [
            f"# HELP {IN_FLIGHT_SERIES} Events being handled",
            f"# TYPE {IN_FLIGHT_SERIES} gauge",
            f'{IN_FLIGHT_SERIES}{{topic="plan",group="executor"}} 120.0',
            f'{IN_FLIGHT_SERIES}{{topic="cancel",group="executor"}} 3',
            f"{IN_FLIGHT_SERIES}_max 999",
            "process_resident_memory_bytes 1e8",
        ]
    )
    assert gauge_sum(text, IN_FLIGHT_SERIES) == 123.0
    assert gauge_sum(f"{IN_FLIGHT_SERIES} 7 1700000000000", IN_FLIGHT_SERIES) == 7.0


def test_a_service_without_the_gauge_has_no_in_flight_figure() -> None:
    assert gauge_sum("process_resident_memory_bytes 1e8\n", IN_FLIGHT_SERIES) is None


def test_peaks_keep_the_largest_value_and_remember_names_never_measured() -> None:
    peaks = Peaks()
    for name, value in (
        ("planner", 3.0),
        ("planner", 9.0),
        ("planner", None),
        ("planner", 4.0),
        ("gw", None),
    ):
        peaks.observe(name, value)
    assert peaks.values == {"planner": 9.0, "gw": None}


def test_the_services_table_says_when_a_service_does_not_expose_its_events_in_flight() -> None:
    phase = {
        "events_in_flight_peak": {"planner_svc#1": None, "executor_svc#1": 250.0},
        "rss_mib_peak": {"planner_svc#1": 110.0, "executor_svc#1": 120.0},
        "cpu_ms_per_task": {"planner_svc#1": 20.0, "executor_svc#1": 15.0},
        "llm": {"peak_in_flight_by_model": {PLANNER_MODEL: 4, REVIEWER_MODEL: 3}},
    }
    rows = services_table({"r1": {"Troupe, 1 replica(s)": {"100": phase}}})
    assert "| r1, 100 tasks, 1 replica(s) | executor_svc#1 | 250 | - | 120.0 | 15.0 |" in rows
    assert "| r1, 100 tasks, 1 replica(s) | planner_svc#1 | not exposed | 4 | 110.0 | 20.0 |" in rows


DOC = "# Benchmarks\n\n## Latency\nold latency\n\n## Realistic latency\nold figures\n\n## Notes\n- a note\n"


def test_the_section_is_replaced_in_place_and_the_rest_kept() -> None:
    new = replace_section(DOC, HEADING, f"{HEADING}\nnew figures\n")
    assert (
        new
        == "# Benchmarks\n\n## Latency\nold latency\n\n## Realistic latency\nnew figures\n\n## Notes\n- a note\n"
    )


def test_the_section_is_appended_to_a_document_without_it() -> None:
    new = replace_section("# Benchmarks\n\n## Notes\n- a note\n", HEADING, f"{HEADING}\n### r1\nfigures\n")
    assert new == "# Benchmarks\n\n## Notes\n- a note\n\n## Realistic latency\n### r1\nfigures\n"


def test_a_full_run_keeps_the_realistic_section_it_did_not_measure() -> None:
    rewritten = keep_section(DOC, "# Benchmarks\n\n## Latency\nnew latency\n", HEADING)
    assert rewritten == "# Benchmarks\n\n## Latency\nnew latency\n\n## Realistic latency\nold figures\n"
    assert (
        keep_section("# Benchmarks\n", "# Benchmarks\n## Latency\nx\n", HEADING)
        == "# Benchmarks\n## Latency\nx\n"
    )


@pytest.mark.parametrize(("q", "rank"), [(50, 5), (95, 10), (10, 1), (0, 1), (100, 10), (51, 6)])
def test_percentiles_are_nearest_rank(q: float, rank: int) -> None:
    assert percentile([float(i) for i in range(10, 0, -1)], q) == float(rank)


def test_p99_of_200_samples_is_the_198th() -> None:
    assert percentile([float(i) for i in range(1, 201)], 99) == 198.0


async def test_a_burst_of_calls_times_those_that_ended_and_leaves_the_rest_unfinished() -> None:
    outcomes = iter(["succeeded", "failed", None])

    async def run() -> str:
        outcome = next(outcomes)
        if outcome is None:
            await asyncio.Event().wait()  # never ends
        return str(outcome)

    timings = await callable_burst(run, 3, budget=0.5)
    assert [t.status for t in timings] == ["succeeded", "failed", None]
    assert [t.finished is None for t in timings] == [False, False, True]
    assert burst_figures(timings).succeeded == 1


def test_the_recorded_command_leaves_the_notes_out() -> None:
    argv = ["--tasks", "100", "--note", "before the rewrite", "--llm-delay", "2", "--note=x"]
    assert without_notes(argv) == ["--tasks", "100", "--llm-delay", "2"]
