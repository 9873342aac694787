"""The index of waits for approval in the real MongoDB-wire server: what the executor's expiry sweep reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from executor_svc.approval_waits import MongoApprovalWaits
from troupe.db import Document

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_the_due_waits_come_soonest_first_and_a_closed_one_never(
    database: AsyncDatabase[Document],
) -> None:
    waits = MongoApprovalWaits(database)
    await waits.ensure_indexes()
    await waits.open("late", 1, T0 + timedelta(seconds=30))
    await waits.open("soon", 2, T0 + timedelta(seconds=10))
    await waits.open("later", 1, T0 + timedelta(hours=1))
    await waits.open("closed", 1, T0)
    await waits.close("closed", 1)
    assert await waits.due(T0 + timedelta(minutes=1)) == [("soon", 2), ("late", 1)]
    await waits.open("soon", 2, T0 + timedelta(seconds=10))  # the same wait indexed again is one entry
    assert await waits.due(T0 + timedelta(seconds=20)) == [("soon", 2)]
