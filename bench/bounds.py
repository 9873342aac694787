"""The best figures the design's own parts allow, from those parts measured alone (bench/parts.py).

Whatever Troupe's code does, one iteration of a task cannot skip these: two LLM calls (plan, review) through
the `openai` client; in each of the three stages a ledger look-up before its work and a ledger record before
its publish (the reviewer records the review, then the task's end); the Kafka hand-overs the floor measures,
each event encoded and decoded once as a validated contract; and, through the gateway, an HTTP request each
way, the projection's write of the final state and the read that shows it. Everything else (logs, spans, the
frameworks, the handlers' own logic, a stage's second look-up, the projection's reads of every event) comes on
top of these, so the figures here are bounds for this design on this machine: a latency nothing built this
way can go under, and a throughput nothing built this way can go over.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PART_USES", "Bounds", "bounds"]

LLM_CALL, LOOKUP, RECORD, EVENT, CODEC, HTTP = (
    "LLM call",
    "ledger look-up",
    "ledger record",
    "Kafka event",
    "event codec",
    "HTTP round trip",
)


@dataclass(frozen=True)
class Uses:
    """How often one iteration of a task uses a part: waited for one after another on its critical path over
    Kafka, added to that through the gateway, and in all (what its CPU bound counts)."""

    on_path: int
    through_gateway: int
    per_task: int


PART_USES: dict[str, Uses] = {
    LLM_CALL: Uses(on_path=2, through_gateway=0, per_task=2),
    # A stage's two look-ups (its output, the task's end) run at once: one latency on the path; the CPU bound
    # counts one per stage, as if both were one query. The gateway's GET reads the task once.
    LOOKUP: Uses(on_path=3, through_gateway=1, per_task=3),
    # Plan, execution, review, then the task's end; the gateway's projection writes the final state.
    RECORD: Uses(on_path=4, through_gateway=1, per_task=5),
    # Their latency is the floor's; submitted, plan, execution, review, finished, each read once at least
    # (the projection reads each again, which the bound leaves out).
    EVENT: Uses(on_path=0, through_gateway=0, per_task=5),
    # Each event encoded by the stage that writes it and decoded by the one that reads it: the contracts are
    # validated models on both sides.
    CODEC: Uses(on_path=0, through_gateway=0, per_task=5),
    # POST /tasks, and the GET that shows the final status.
    HTTP: Uses(on_path=0, through_gateway=2, per_task=0),
}


@dataclass(frozen=True)
class Bounds:
    kafka_ms: float  # task.submitted published until task.finished consumed
    http_ms: float  # POST until a GET shows the final status
    cpu_ms: float  # CPU per task, every process on the machine
    stub_cpu_ms: float  # of which the LLM stub's, which a real provider would spend elsewhere
    cores: int

    @property
    def tasks_per_s(self) -> float:
        return self.cores * 1000 / self.cpu_ms

    @property
    def tasks_per_s_without_stub(self) -> float:
        return self.cores * 1000 / (self.cpu_ms - self.stub_cpu_ms)


def bounds(
    p50_ms: dict[str, float], cpu_ms: dict[str, dict[str, float]], floor_ms: float, cores: int
) -> Bounds:
    """`p50_ms[part]`: a use's latency alone; `cpu_ms[part][process]`: a use's CPU at best (batched where the
    part can be batched); `floor_ms`: the Kafka floor for one iteration's hops."""
    kafka = floor_ms + sum(uses.on_path * p50_ms.get(part, 0.0) for part, uses in PART_USES.items())
    http = kafka + sum(uses.through_gateway * p50_ms.get(part, 0.0) for part, uses in PART_USES.items())
    cpu = sum(uses.per_task * sum(cpu_ms.get(part, {}).values()) for part, uses in PART_USES.items())
    stub = PART_USES[LLM_CALL].per_task * cpu_ms.get(LLM_CALL, {}).get("llm", 0.0)
    return Bounds(kafka_ms=kafka, http_ms=http, cpu_ms=cpu, stub_cpu_ms=stub, cores=cores)
