"""How the accepted tasks ended, read from the events topics and the projection: the figures a fault run
reports. Pure: it only looks at what was collected.

- lost: accepted, yet nothing of it ever appeared after its submission (no plan, no end);
- stuck: taken up but not ended on the topic, or ended there but not final in the projection (what
  GET /tasks/{id} shows) at the end;
- duplicated: more than one distinct `task.finished` (differing event or content), or a projection whose
  final status differs from the task's `task.finished`.
Identical copies of the one `task.finished` are delivery at least once, not a second result (decision 0007;
the projection applies an event id once); they are counted apart, as `repeated_final_events`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from schemas import Envelope, FinalStatus, TaskFinished, TaskSubmitted

__all__ = ["Tally", "repeated_events", "tally"]

FINAL = {status.value for status in FinalStatus}


@dataclass
class Tally:
    tasks: int
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    repeated_final_events: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    stuck_at: dict[str, str] = field(default_factory=dict)  # task -> its last event type, for a diagnosis

    @property
    def clean(self) -> bool:
        return not (self.lost or self.stuck or self.duplicated)

    def figures(self) -> dict[str, object]:
        return {
            "tasks": self.tasks,
            "lost": len(self.lost),
            "stuck": len(self.stuck),
            "duplicated": len(self.duplicated),
            "repeated_final_events": self.repeated_final_events,
            "statuses": dict(self.statuses),
            # A sample for a diagnosis; the logs of the run's services have the rest.
            "stuck_at": dict(sorted(self.stuck_at.items())[:20]),
            "stuck_by_last_state": dict(Counter(self.stuck_at.values())),
        }


def tally(
    accepted: Sequence[str],
    events: Mapping[str, Sequence[Envelope]],
    projected: Mapping[str, str | None] | None,
) -> Tally:
    """`events`: every event seen on the topics, by task; `projected`: each task's status in the projection,
    or None to judge by the topics alone."""
    result = Tally(tasks=len(accepted))
    for task_id in accepted:
        history = events.get(task_id, [])
        finals = [e for e in history if isinstance(e, TaskFinished)]
        distinct = {f.model_dump_json() for f in finals}
        status = (
            projected.get(task_id) if projected is not None else finals[-1].status.value if finals else None
        )
        if not finals:
            if all(isinstance(e, TaskSubmitted) for e in history):
                result.lost.append(task_id)
            else:
                result.stuck.append(task_id)
                result.stuck_at[task_id] = history[-1].type
            continue
        result.statuses[finals[0].status.value] += 1
        result.repeated_final_events += len(finals) - 1 if len(distinct) == 1 else 0
        if len(distinct) > 1 or (status in FINAL and status != finals[0].status.value):
            result.duplicated.append(task_id)
        elif status not in FINAL:
            result.stuck.append(task_id)
            result.stuck_at[task_id] = f"projection: {status}"
    return result


def repeated_events(events: Mapping[str, Sequence[Envelope]]) -> dict[str, int]:
    """Per event type, copies beyond the first of one event id: work a crash made a stage do or publish
    again (event ids are derived from task, stage and iteration, so a redone stage repeats its ids)."""
    copies: Counter[str] = Counter()
    for history in events.values():
        seen: set[str] = set()
        for event in history:
            if event.event_id in seen:
                copies[event.type] += 1
            seen.add(event.event_id)
    return dict(copies)
