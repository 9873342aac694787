"""A starting service waits for an unreachable server, for a while, and fails at once on anything else."""

from __future__ import annotations

import pytest
from pymongo.errors import OperationFailure, ServerSelectionTimeoutError

from troupe.outages import StillUnreachable, when_reachable


class Step:
    """Fails with `error` the first `failures` times it runs, then answers 42."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.runs = 0

    async def __call__(self) -> int:
        self.runs += 1
        if self.runs <= self.failures:
            raise self.error
        return 42


async def test_an_unreachable_server_is_waited_for() -> None:
    step = Step(2, ServerSelectionTimeoutError("no servers"))
    assert await when_reachable("MongoDB", step, within_s=30) == 42
    assert step.runs == 3


async def test_any_other_failure_ends_the_start_at_once() -> None:
    step = Step(5, OperationFailure("not authorized", code=13))
    with pytest.raises(OperationFailure):
        await when_reachable("MongoDB", step, within_s=30)
    assert step.runs == 1


async def test_a_server_still_away_after_the_timeout_is_named_in_the_failure() -> None:
    step = Step(1_000, ServerSelectionTimeoutError("127.0.0.1:27999: connection refused"))
    with pytest.raises(
        StillUnreachable, match=r"MongoDB: creating the indexes: still unreachable after 0.6 s"
    ):
        await when_reachable("MongoDB: creating the indexes", step, within_s=0.6)
    assert 2 <= step.runs <= 4  # pauses of 0.5 s, then what is left
