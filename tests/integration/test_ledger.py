"""The stage ledger on the real MongoDB-wire server, and its in-memory fake held to the same behaviour."""

from __future__ import annotations

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from schemas import Envelope, FinalStatus, TaskFinished, TaskSubmitted
from schemas.task import TaskRequest
from troupe.db import Document
from troupe.ledger import InMemoryLedger, Ledger, MongoLedger, finished_key, stage_key


@pytest.fixture(params=["mongo", "memory"])
def ledger(request: pytest.FixtureRequest, database: AsyncDatabase[Document]) -> Ledger:
    return MongoLedger(database) if request.param == "mongo" else InMemoryLedger()


def _output(tenant: str = "acme") -> TaskSubmitted:
    return TaskSubmitted(task_id="t1", tenant=tenant, request=TaskRequest(description="x"))


def _end(status: FinalStatus = FinalStatus.SUCCEEDED) -> TaskFinished:
    return TaskFinished(task_id="t1", tenant="acme", status=status, finished_by="reviewer")


OUTPUT, END = stage_key("review", "t1", 1), finished_key("t1")


async def _held(ledger: Ledger) -> dict[str, Envelope | None]:
    return {OUTPUT: await ledger.find(OUTPUT), END: await ledger.find(END)}


async def test_records_in_order_are_all_stored_when_no_key_is_taken(ledger: Ledger) -> None:
    output, end = _output(), _end()
    assert await ledger.record_in_order([(OUTPUT, output), (END, end)]) == 2
    assert await _held(ledger) == {OUTPUT: output, END: end}


async def test_a_taken_first_key_stores_nothing_after_it(ledger: Ledger) -> None:
    first = _output("first")
    await ledger.record_once(OUTPUT, first)
    assert await ledger.record_in_order([(OUTPUT, _output()), (END, _end())]) == 0
    assert await _held(ledger) == {OUTPUT: first, END: None}


async def test_a_taken_later_key_keeps_its_first_record_and_those_before_it_are_stored(
    ledger: Ledger,
) -> None:
    output, cancelled = _output(), _end(FinalStatus.CANCELLED)
    await ledger.record_once(END, cancelled)
    assert await ledger.record_in_order([(OUTPUT, output), (END, _end())]) == 1
    assert await _held(ledger) == {OUTPUT: output, END: cancelled}


async def test_records_in_order_again_store_nothing_new(ledger: Ledger) -> None:
    """A redelivery repeating the call after its records were stored (a crash before publishing them)."""
    output, end = _output(), _end()
    await ledger.record_in_order([(OUTPUT, output), (END, end)])
    assert await ledger.record_in_order([(OUTPUT, _output("again")), (END, _end(FinalStatus.FAILED))]) == 0
    assert await _held(ledger) == {OUTPUT: output, END: end}
