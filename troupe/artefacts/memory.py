"""An artefact store in a dict, for unit tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from schemas import ArtefactRef
from troupe.artefacts.store import ArtefactNotFound, StoredArtefact, TaskArtefacts, by_task, describe

__all__ = ["InMemoryArtefacts"]


def _now() -> datetime:
    return datetime.now(UTC)


class InMemoryArtefacts:
    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.stored: dict[str, tuple[StoredArtefact, bytes]] = {}
        self.puts = 0
        self._clock = clock

    async def put(self, tenant: str, task_id: str, key: str, data: bytes, media_type: str) -> ArtefactRef:
        self.puts += 1
        ref = describe(tenant, task_id, key, data, media_type)
        self.stored.setdefault(ref.id, (StoredArtefact(ref, tenant, task_id, key, self._clock()), data))
        return ref

    async def find(self, tenant: str, artefact_id: str) -> StoredArtefact:
        return self._entry(tenant, artefact_id)[0]

    async def get(self, tenant: str, artefact_id: str) -> bytes:
        return self._entry(tenant, artefact_id)[1]

    async def read_range(self, tenant: str, artefact_id: str, start: int, length: int) -> bytes:
        return self._entry(tenant, artefact_id)[1][start : start + length]

    async def list_for_task(self, tenant: str, task_id: str) -> list[StoredArtefact]:
        mine = [s for s, _ in self.stored.values() if s.tenant == tenant and s.task_id == task_id]
        return sorted(mine, key=lambda s: s.ref.id)

    async def tasks_with_artefacts(self) -> list[TaskArtefacts]:
        return by_task((s.tenant, s.task_id, s.stored_at) for s, _ in self.stored.values())

    async def delete_for_task(self, tenant: str, task_id: str) -> int:
        return await self.delete_for_tasks([(tenant, task_id)])

    async def delete_for_tasks(self, tasks: Sequence[tuple[str, str]]) -> int:
        wanted = set(tasks)
        gone = [i for i, (s, _) in self.stored.items() if (s.tenant, s.task_id) in wanted]
        for artefact in gone:
            del self.stored[artefact]
        return len(gone)

    def _entry(self, tenant: str, artefact_id: str) -> tuple[StoredArtefact, bytes]:
        entry = self.stored.get(artefact_id)
        if entry is None or entry[0].tenant != tenant:
            raise ArtefactNotFound(artefact_id)
        return entry
