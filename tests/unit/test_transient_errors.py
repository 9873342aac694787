"""One classification decides retry-until-it-works (an outage) from retry-then-dead-letter (everything else)."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    UnknownTopicOrPartitionError,
)
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
    WriteConcernError,
    WTimeoutError,
)

from schemas import InvalidEvent
from troupe.errors import brief, is_transient


@pytest.mark.parametrize(
    "exc",
    [
        ServerSelectionTimeoutError("127.0.0.1:27017: connection refused"),
        AutoReconnect("connection closed"),
        NetworkTimeout("timed out"),
        NotPrimaryError("not primary"),
        ExecutionTimeout("operation exceeded time limit", code=50),
        WTimeoutError("waiting for replication timed out", code=64),
        OperationFailure("shutdown in progress", code=91),
        OperationFailure("interrupted at shutdown", code=11600),
        WriteConcernError("write concern not available yet", code=100),
        OperationFailure("anything", code=1, details={"errorLabels": ["RetryableWriteError"]}),
        KafkaConnectionError("connection refused"),
        KafkaTimeoutError(),
        RequestTimedOutError(),
        NotLeaderForPartitionError(),
        UnknownTopicOrPartitionError(),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_an_unreachable_or_restarting_server_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad value"),
        KeyError("missing"),
        InvalidEvent("not JSON"),
        DuplicateKeyError("E11000 duplicate key", code=11000),
        OperationFailure("unknown operator: $foo", code=2),
        MessageSizeTooLargeError(),
        TimeoutError(),  # on its own it says nothing about the servers: a tool or an LLM may have timed out
        ConnectionError("LLM provider refused"),  # not one of ours: the router has its own fallbacks
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_everything_else_is_permanent(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_an_error_raised_from_an_outage_is_transient() -> None:
    try:
        try:
            raise ServerSelectionTimeoutError("no servers")
        except ServerSelectionTimeoutError as cause:
            raise RuntimeError("could not record the stage output") from cause
    except RuntimeError as wrapped:
        assert is_transient(wrapped)


def test_a_timeout_raised_from_an_outage_is_transient() -> None:
    try:
        try:
            raise KafkaConnectionError("broker away")
        except KafkaConnectionError as cause:
            raise TimeoutError("publish did not complete") from cause
    except TimeoutError as wrapped:
        assert is_transient(wrapped)


def test_a_cause_chain_that_loops_ends() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert not is_transient(first)


def test_brief_is_one_short_line() -> None:
    error = ServerSelectionTimeoutError(
        "127.0.0.1:1: refused,\n Timeout: 2.0s, Topology Description: " + "x" * 500
    )
    line = brief(error)
    assert line.startswith("ServerSelectionTimeoutError: 127.0.0.1:1: refused, Timeout: 2.0s")
    assert "\n" not in line and len(line) < 260 and line.endswith("...")
