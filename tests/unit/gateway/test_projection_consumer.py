"""What the projection's reader takes from raw Kafka records."""

from __future__ import annotations

from aiokafka import ConsumerRecord

from gateway_svc.projection_consumer import ProjectionConsumer
from gateway_svc.projection_store import InMemoryTaskStore
from gateway_svc.projector import Projector
from schemas import TaskRequest, TaskSubmitted, encode_event
from troupe.settings import Settings

TRACEPARENT = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _record(
    value: bytes, headers: list[tuple[str, bytes | None]], offset: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t.tasks.submitted",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"t1",
        value=value,
        checksum=None,
        serialized_key_size=2,
        serialized_value_size=len(value),
        headers=headers,
    )


def test_records_with_odd_headers_or_unreadable_values_do_not_stop_the_reader() -> None:
    reader = ProjectionConsumer(Settings(), Projector(InMemoryTaskStore()))
    event = TaskSubmitted(task_id="t1", tenant="acme", request=TaskRequest(description="x"))
    events, parents = reader._read(
        [
            _record(encode_event(event), [("traceparent", None)]),  # a null header value is legal on the wire
            _record(b"not json", [], offset=1),
            _record(encode_event(event), [("traceparent", TRACEPARENT)], offset=2),
        ]
    )
    assert [(e.event_id, trace) for e, trace in events] == [
        (event.event_id, None),
        (event.event_id, "0af7651916cd43dd8448eb211c80319c"),
    ]
    assert set(parents) == {event.event_id}
