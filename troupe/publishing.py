"""Publishing events: the one narrow interface handlers use to say what happened."""

from __future__ import annotations

from typing import Protocol, TypeVar

from faststream.kafka import KafkaBroker

from schemas import Envelope, EventModel, Topics, encode_event

__all__ = ["EventPublisher", "KafkaEventPublisher", "RecordingPublisher"]

E = TypeVar("E", bound=Envelope)


class EventPublisher(Protocol):
    async def publish(self, event: Envelope) -> None: ...


class KafkaEventPublisher:
    """Publishes each event on its catalogue topic, keyed by task id so a task's events keep their order."""

    def __init__(self, broker: KafkaBroker, topics: Topics) -> None:
        self._broker = broker
        self._topics = topics

    async def publish(self, event: Envelope) -> None:
        await self._broker.publish(
            encode_event(event),
            self._topics.for_event(event),
            key=event.task_id.encode(),
            headers={"x-event-type": event.type, "x-tenant": event.tenant},
        )

    async def publish_raw(self, event: EventModel, topic: str, key: bytes | None) -> None:
        await self._broker.publish(event.model_dump_json().encode(), topic, key=key)


class RecordingPublisher:
    """A fake that keeps what was published, in order."""

    def __init__(self) -> None:
        self.events: list[Envelope] = []

    async def publish(self, event: Envelope) -> None:
        self.events.append(event)

    def of_type(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]
