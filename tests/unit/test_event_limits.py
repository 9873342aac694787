"""How large an event may be: consumers refuse larger ones by size, and a dead letter keeps any record whole."""

from __future__ import annotations

import base64
import os

import pytest

from schemas import InvalidEvent, TaskRequest, TaskSubmitted, encode_event
from troupe.consuming import read_event
from troupe.dead_letters import RefusedMessage, dead_letter_for
from troupe.event_limits import check_event_size
from troupe.settings import Settings

MiB = 1024 * 1024


def padded(event: TaskSubmitted, size: int) -> bytes:
    """The event's JSON with whitespace before its closing brace: still valid, just large."""
    raw = encode_event(event)
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def test_an_event_over_the_limit_is_refused_with_its_size_and_the_limit() -> None:
    check_event_size(b"x" * MiB, MiB)
    with pytest.raises(InvalidEvent) as refused:
        check_event_size(b"x" * (MiB + 1), MiB)
    assert (
        "1,048,577 bytes, over the limit of 1,048,576 bytes (TROUPE_MAX_EVENT_BYTES)" in refused.value.reason
    )


def test_a_consumer_refuses_a_valid_event_by_its_size_alone() -> None:
    event = TaskSubmitted(task_id="t1", request=TaskRequest(description="hi"))
    small = RefusedMessage("troupe.tasks.submitted", 0, 1, b"t1", padded(event, 1000))
    assert read_event(small, (TaskSubmitted,), max_bytes=1000) == event
    large = RefusedMessage("troupe.tasks.submitted", 0, 2, b"t1", padded(event, 5 * MiB))
    with pytest.raises(InvalidEvent, match=r"5,242,880 bytes, over the limit of 1,048,576"):
        read_event(large, (TaskSubmitted,), max_bytes=MiB)


@pytest.mark.parametrize(
    ("key_bytes", "value_bytes"),
    [(36, 8 * MiB - 36), (MiB, 7 * MiB)],
    ids=["largest value", "a megabyte of control bytes as the key"],
)
def test_a_dead_letter_of_the_largest_record_fits_the_dead_letter_topic(
    key_bytes: int, value_bytes: int
) -> None:
    settings = Settings()
    value = os.urandom(value_bytes)
    message = RefusedMessage("troupe.plans.created", 3, 7, b"\x00" * key_bytes, value)
    letter = dead_letter_for(message, "executor", "x" * 20_000)
    assert base64.b64decode(letter.original_base64) == value  # whole, not a truncated copy
    assert key_bytes + value_bytes == settings.kafka_max_message_bytes
    assert len(letter.model_dump_json().encode()) <= settings.dead_letter_max_message_bytes


def test_the_event_limit_cannot_exceed_what_the_topics_accept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TROUPE_MAX_EVENT_BYTES", str(16 * MiB))
    with pytest.raises(ValueError, match="must not exceed TROUPE_KAFKA_MAX_MESSAGE_BYTES"):
        Settings()
