"""Figures of a burst: tasks published all at once, each timed from its publication to its end."""

from __future__ import annotations

from dataclasses import dataclass

from bench.report import percentile

__all__ = [
    "BurstFigures",
    "HeadOfLine",
    "TaskTiming",
    "burst_figures",
    "head_of_line",
    "peak_overlap",
    "rates",
]


@dataclass(frozen=True)
class TaskTiming:
    """Wall-clock seconds (time.time()), so they compare with the LLM stub's and the sandbox's stamps."""

    task_id: str
    submitted: float
    finished: float | None = None  # None: no end heard within the burst's budget
    status: str | None = None


@dataclass(frozen=True)
class BurstFigures:
    tasks: int
    finished: int
    succeeded: int
    makespan_s: float  # first publication to the last end heard
    tasks_per_s: float  # ends heard over the makespan
    p50_s: float
    p95_s: float


def burst_figures(timings: list[TaskTiming]) -> BurstFigures:
    ended = [t for t in timings if t.finished is not None]
    latencies = [t.finished - t.submitted for t in ended if t.finished is not None]
    start = min((t.submitted for t in timings), default=0.0)
    makespan = max((t.finished for t in ended if t.finished is not None), default=start) - start
    return BurstFigures(
        tasks=len(timings),
        finished=len(ended),
        succeeded=sum(t.status == "succeeded" for t in ended),
        makespan_s=makespan,
        tasks_per_s=len(ended) / makespan if makespan > 0 else 0.0,
        p50_s=percentile(latencies, 50),
        p95_s=percentile(latencies, 95),
    )


@dataclass(frozen=True)
class HeadOfLine:
    others: int
    ended_before_hung_returned: int
    others_figures: BurstFigures

    @property
    def nobody_waited(self) -> bool:
        return self.ended_before_hung_returned == self.others


def head_of_line(others: list[TaskTiming], hung_returned: float | None) -> HeadOfLine:
    """How many of the tasks sharing the hung task's partition ended before its call returned (all of them
    count if it never returned within the run)."""
    before = sum(
        t.finished is not None and (hung_returned is None or t.finished < hung_returned) for t in others
    )
    return HeadOfLine(len(others), before, burst_figures(others))


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant; one ending as another starts does not count as overlap."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, change in edges:
        current += change
        peak = max(peak, current)
    return peak


def rates(starts: list[float]) -> tuple[float, int]:
    """(starts per second from the first to the last, most starts within any one second)."""
    ordered = sorted(starts)
    if len(ordered) < 2:
        return 0.0, len(ordered)
    span = ordered[-1] - ordered[0]
    mean = (len(ordered) - 1) / span if span > 0 else float("inf")
    most, first = 0, 0
    for last, stamp in enumerate(ordered):
        while stamp - ordered[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return mean, most
