"""Which tasks' artefacts are past retention: counted from the task's end, never while it runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from troupe.artefacts import TEXT, InMemoryArtefacts, TaskArtefacts, TaskEnd, expired, prune
from troupe.artefacts.store import by_task

CUTOFF = datetime(2026, 1, 31, tzinfo=UTC)
BEFORE, AFTER = CUTOFF - timedelta(seconds=1), CUTOFF + timedelta(seconds=1)
OLD_ARTEFACTS = TaskArtefacts("acme", "t-1", BEFORE - timedelta(days=400))


@pytest.mark.parametrize(
    ("end", "goes"),
    [
        (TaskEnd("acme", BEFORE), True),
        (TaskEnd("acme", AFTER), False),
        (TaskEnd("acme", None), False),  # still running, however old its artefacts
        (TaskEnd("globex", None), True),  # the task is another tenant's: the artefacts' own age counts
        (None, True),  # unknown to the projection: the artefacts' own age counts
    ],
)
def test_a_tasks_artefacts_go_once_it_ended_before_the_cutoff(end: TaskEnd | None, goes: bool) -> None:
    assert expired(OLD_ARTEFACTS, end, CUTOFF) is goes


@pytest.mark.parametrize(("stored", "goes"), [(BEFORE, True), (AFTER, False), (None, False)])
def test_artefacts_of_an_unknown_task_go_by_their_newest_stored_time(
    stored: datetime | None, goes: bool
) -> None:
    assert expired(TaskArtefacts("acme", "t-1", stored), None, CUTOFF) is goes


def test_a_task_is_as_new_as_its_newest_artefact_and_undated_if_any_is() -> None:
    day = timedelta(days=1)
    stored: list[tuple[str, str, datetime | None]] = [
        ("acme", "t-1", BEFORE),
        ("acme", "t-1", BEFORE + day),
        ("globex", "t-1", BEFORE),
    ]
    stored += [("acme", "t-2", BEFORE), ("acme", "t-2", None), ("acme", "t-2", BEFORE + day)]
    assert by_task(stored) == [
        TaskArtefacts("acme", "t-1", BEFORE + day),
        TaskArtefacts("acme", "t-2", None),
        TaskArtefacts("globex", "t-1", BEFORE),
    ]


async def test_prune_removes_only_the_expired_tasks_artefacts() -> None:
    store = InMemoryArtefacts(clock=lambda: BEFORE - timedelta(days=100))
    for task_id in ("t-ended", "t-running", "t-recent"):
        await store.put("acme", task_id, "1/s1", task_id.encode(), TEXT)
    ends = {
        "t-ended": TaskEnd("acme", BEFORE),
        "t-running": TaskEnd("acme", None),
        "t-recent": TaskEnd("acme", AFTER),
    }

    async def end_of(task_id: str) -> TaskEnd | None:
        return ends.get(task_id)

    pruned = await prune(store, end_of, timedelta(days=30), CUTOFF + timedelta(days=30))
    assert [t.task_id for t in pruned.tasks] == ["t-ended"] and pruned.artefacts == 1
    assert sorted(s.task_id for s, _ in store.stored.values()) == ["t-recent", "t-running"]
    assert (await prune(store, end_of, timedelta(0), CUTOFF + timedelta(days=9_999))).tasks == []
