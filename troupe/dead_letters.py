"""Dead letters: a refused message is kept byte for byte, with where it came from and why."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Protocol

from faststream.kafka import KafkaBroker

from schemas import DeadLettered, deterministic_event_id, read_task_id, read_tenant

__all__ = [
    "DeadLetterSink",
    "KafkaDeadLetters",
    "RecordingDeadLetters",
    "RefusedMessage",
    "dead_letter_for",
]

# Task ids are at most 128 characters; a longer key is hostile, and is shown in part.
_MAX_KEY_SHOWN = 1024


@dataclass(frozen=True)
class RefusedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def dead_letter_for(message: RefusedMessage, consumer: str, reason: str) -> DeadLettered:
    task_id = read_task_id(message.value)  # None when unreadable or malformed: it cannot name a document
    return DeadLettered(
        # One id per source message and consumer, so a redelivered refusal is recognisably the same letter.
        event_id=deterministic_event_id(
            message.topic, "dead-letter", message.partition, message.offset, consumer
        ),
        task_id=task_id,
        tenant=read_tenant(message.value),
        source_topic=message.topic,
        source_partition=message.partition,
        source_offset=message.offset,
        consumer=consumer,
        reason=reason[:10_000],
        original_base64=base64.b64encode(message.value).decode(),
        original_key=_key_text(message.key),
    )


def _key_text(key: bytes | None) -> str | None:
    """The key as text, cut short when it is far longer than any task id: escaped as JSON, a key of control
    bytes grows sixfold, and the letter must still fit the dead-letter topic or the partition would stall."""
    if key is None:
        return None
    if len(key) <= _MAX_KEY_SHOWN:
        return key.decode(errors="replace")
    return f"{key[:_MAX_KEY_SHOWN].decode(errors='replace')}... ({len(key):,} bytes in all)"


class DeadLetterSink(Protocol):
    async def send(self, message: RefusedMessage, reason: str) -> None: ...


class KafkaDeadLetters:
    """Publishes letters on the dead-letter topic, keyed by task id when one could be read."""

    def __init__(self, broker: KafkaBroker, topic: str, consumer: str) -> None:
        self._broker = broker
        self._topic = topic
        self.consumer = consumer

    async def send(self, message: RefusedMessage, reason: str) -> None:
        letter = dead_letter_for(message, self.consumer, reason)
        key = letter.task_id.encode() if letter.task_id else None
        await self._broker.publish(letter.model_dump_json().encode(), self._topic, key=key)


class RecordingDeadLetters:
    """A fake sink that keeps the letters."""

    def __init__(self, consumer: str = "test") -> None:
        self.consumer = consumer
        self.letters: list[DeadLettered] = []

    async def send(self, message: RefusedMessage, reason: str) -> None:
        self.letters.append(dead_letter_for(message, self.consumer, reason))
