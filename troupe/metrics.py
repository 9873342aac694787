"""The metrics Troupe emits over OTLP, named once here so that code, dashboards and tests agree.

Names are OpenTelemetry names. A Prometheus behind the OpenTelemetry Collector stores them under a
translated name (`prometheus_series`): dots become underscores, the unit is appended (`s` as `_seconds`;
units in braces such as `{token}` are dropped), counters end in `_total`, and a histogram is read through
its `_bucket`, `_sum` and `_count` series. Attribute keys become label names the same way (dots to
underscores); the keys below have no dots, so they stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Observation

__all__ = [
    "ALL",
    "CONSUMER_LAG",
    "EVENTS_IN_FLIGHT",
    "EVENTS_REFUSED",
    "LLM_COST",
    "LLM_TOKENS",
    "STAGE_DURATION",
    "TASKS_FINISHED",
    "TASK_DURATION",
    "TOOL_DURATION",
    "TOOL_FAILURES",
    "Metric",
    "prometheus_series",
    "record_event_refused",
    "record_llm_usage",
    "record_stage",
    "record_task_finished",
    "record_tool_step",
    "set_consumer_lag",
    "watch_in_flight",
]

Kind = Literal["counter", "histogram", "gauge"]


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Kind
    unit: str
    description: str
    labels: tuple[str, ...]


TASKS_FINISHED = Metric(
    "troupe.tasks.finished", "counter", "{task}", "Tasks ended, by final status", ("status",)
)
TASK_DURATION = Metric(
    "troupe.task.duration", "histogram", "s", "Submission to final status, end to end", ("status",)
)
STAGE_DURATION = Metric(
    "troupe.stage.duration",
    "histogram",
    "s",
    "Time a stage's handler spent on one event; the stage is the event type it handled",
    ("stage", "outcome"),
)
CONSUMER_LAG = Metric(
    "troupe.kafka.consumer.lag",
    "gauge",
    "{message}",
    "Messages on a topic not yet consumed by the group (high watermark minus committed offset)",
    ("group", "topic"),
)
EVENTS_IN_FLIGHT = Metric(
    "troupe.events.in_flight",
    "gauge",
    "{event}",
    "Events a consumer group's process holds: being handled, or waiting behind their task's earlier events",
    ("group",),
)
LLM_TOKENS = Metric(
    "troupe.llm.tokens",
    "counter",
    "{token}",
    "LLM tokens, by provider and model",
    ("provider", "model", "type"),
)
# The unit is in the name: Prometheus would append a unit `USD` verbatim and in capitals.
LLM_COST = Metric("troupe.llm.cost_usd", "counter", "", "LLM cost in US dollars", ("provider", "model"))
TOOL_DURATION = Metric(
    "troupe.tool.duration", "histogram", "s", "Tool step duration", ("tool", "outcome", "sandbox")
)
TOOL_FAILURES = Metric(
    "troupe.tool.failures", "counter", "{failure}", "Tool steps that did not succeed", ("tool", "outcome")
)
EVENTS_REFUSED = Metric(
    "troupe.events.refused",
    "counter",
    "{event}",
    "Well-formed events a consumer would not act on: not what the pipeline recorded, or another tenant's task",
    ("consumer", "type"),
)
ALL = (
    TASKS_FINISHED,
    TASK_DURATION,
    STAGE_DURATION,
    CONSUMER_LAG,
    EVENTS_IN_FLIGHT,
    LLM_TOKENS,
    LLM_COST,
    TOOL_DURATION,
    TOOL_FAILURES,
    EVENTS_REFUSED,
)

_UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def prometheus_series(metric: Metric) -> tuple[str, ...]:
    """The series names Prometheus stores `metric` under (the Collector's default name translation)."""
    base = metric.name.replace(".", "_")
    suffix = _UNIT_SUFFIXES.get(metric.unit, "" if metric.unit.startswith("{") else metric.unit)
    if suffix and not base.endswith(f"_{suffix}"):
        base = f"{base}_{suffix}"
    if metric.kind == "counter":
        return (f"{base}_total",)
    if metric.kind == "histogram":
        return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
    return (base,)


@dataclass(frozen=True)
class _Instruments:
    tasks_finished: Counter
    task_duration: Histogram
    stage_duration: Histogram
    llm_tokens: Counter
    llm_cost: Counter
    tool_duration: Histogram
    tool_failures: Counter
    events_refused: Counter


# Consumer lag is sampled elsewhere (an async Kafka call) and observed from here at each export.
_lag: dict[tuple[str, str], int] = {}


def _observe_lag(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(lag, {"group": group, "topic": topic}) for (group, topic), lag in _lag.items()]


# Each consumer group's count of events in flight, read at each export.
_in_flight: dict[str, Callable[[], int]] = {}


def _observe_in_flight(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(count(), {"group": group}) for group, count in _in_flight.items()]


@cache
def _instruments() -> _Instruments:
    # Created on first use, from whatever meter provider is set by then (the API's proxy otherwise).
    meter = metrics.get_meter("troupe")

    def counter(m: Metric) -> Counter:
        return meter.create_counter(m.name, unit=m.unit, description=m.description)

    def histogram(m: Metric) -> Histogram:
        return meter.create_histogram(m.name, unit=m.unit, description=m.description)

    meter.create_observable_gauge(
        CONSUMER_LAG.name, [_observe_lag], unit=CONSUMER_LAG.unit, description=CONSUMER_LAG.description
    )
    meter.create_observable_gauge(
        EVENTS_IN_FLIGHT.name,
        [_observe_in_flight],
        unit=EVENTS_IN_FLIGHT.unit,
        description=EVENTS_IN_FLIGHT.description,
    )
    return _Instruments(
        tasks_finished=counter(TASKS_FINISHED),
        task_duration=histogram(TASK_DURATION),
        stage_duration=histogram(STAGE_DURATION),
        llm_tokens=counter(LLM_TOKENS),
        llm_cost=counter(LLM_COST),
        tool_duration=histogram(TOOL_DURATION),
        tool_failures=counter(TOOL_FAILURES),
        events_refused=counter(EVENTS_REFUSED),
    )


def record_task_finished(status: str, duration_s: float | None) -> None:
    instruments = _instruments()
    instruments.tasks_finished.add(1, {"status": status})
    if duration_s is not None:
        instruments.task_duration.record(max(duration_s, 0.0), {"status": status})


def record_stage(stage: str, outcome: str, duration_s: float) -> None:
    _instruments().stage_duration.record(duration_s, {"stage": stage, "outcome": outcome})


def record_llm_usage(provider: str, model: str, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
    instruments = _instruments()
    instruments.llm_tokens.add(tokens_in, {"provider": provider, "model": model, "type": "input"})
    instruments.llm_tokens.add(tokens_out, {"provider": provider, "model": model, "type": "output"})
    if cost_usd > 0:
        instruments.llm_cost.add(cost_usd, {"provider": provider, "model": model})


def record_tool_step(tool: str, outcome: str, duration_s: float, sandbox: str | None) -> None:
    instruments = _instruments()
    instruments.tool_duration.record(duration_s, {"tool": tool, "outcome": outcome, "sandbox": sandbox or ""})
    if outcome != "succeeded":
        instruments.tool_failures.add(1, {"tool": tool, "outcome": outcome})


def record_event_refused(consumer: str, event_type: str) -> None:
    _instruments().events_refused.add(1, {"consumer": consumer, "type": event_type})


def set_consumer_lag(group: str, topic: str, lag: int) -> None:
    _instruments()  # registers the gauge's callback
    _lag[(group, topic)] = lag


def watch_in_flight(group: str, count: Callable[[], int]) -> None:
    _instruments()  # registers the gauge's callback
    _in_flight[group] = count
