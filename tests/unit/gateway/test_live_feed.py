"""What the live feed decodes and hands on: only the records of tasks someone follows."""

from __future__ import annotations

import pytest

from gateway_svc import live_events
from gateway_svc.live_events import KafkaLiveFeed, LiveEvents
from gateway_svc.projection import read_event
from schemas import TaskRequest, TaskSubmitted, decode_event, encode_event
from troupe.settings import Settings


def _submitted(task_id: str) -> bytes:
    return encode_event(TaskSubmitted(task_id=task_id, tenant="acme", request=TaskRequest(description="x")))


def test_only_followed_tasks_records_are_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[bytes] = []

    def counting_read(raw: bytes, max_bytes: int | None = None) -> object:
        decoded.append(raw)
        return read_event(raw, max_bytes)

    monkeypatch.setattr(live_events, "read_event", counting_read)
    hub = LiveEvents()
    sub = hub.subscribe("t1")
    feed = KafkaLiveFeed(Settings(), hub)
    records = [(b"t1", _submitted("t1")), (b"t2", _submitted("t2")), (None, _submitted("t1"))]
    for key, value in records:
        if feed._wanted(key):
            feed._deliver(value)
    assert [decode_event(raw).task_id for raw in decoded] == ["t1", "t1"]  # t2's was never decoded
    assert sub.queue.qsize() == 2
    sub.close()
    assert not hub.follows("t1")
