"""How large one event may be, and how large a Kafka record must be allowed to be to carry it or its letter.

Three sizes, from small to large (docs/decisions/0010-large-events.md):
- `TROUPE_MAX_EVENT_BYTES` (1 MiB): the largest event a consumer accepts; a larger one is dead-lettered.
- `TROUPE_KAFKA_MAX_MESSAGE_BYTES` (8 MiB): what the event topics accept, so an oversized event reaches its
  consumer and is refused with a reason, instead of failing at produce time where only its producer hears why.
- the dead-letter topic: room for a base64 copy of the largest record the event topics accept, so a letter
  keeps the original whole.
"""

from __future__ import annotations

from schemas import InvalidEvent

__all__ = ["check_event_size", "dead_letter_bytes"]

# The letter's own fields around the base64 copy: ids, topic, reason (at most 10,000 characters), key.
_LETTER_HEADROOM = 256 * 1024


def check_event_size(raw: bytes, limit: int) -> None:
    """Raise InvalidEvent when `raw` is larger than one event may be."""
    if len(raw) > limit:
        raise InvalidEvent(
            f"event is {len(raw):,} bytes, over the limit of {limit:,} bytes (TROUPE_MAX_EVENT_BYTES); "
            "large data belongs in a store the event points to"
        )


def dead_letter_bytes(record_bytes: int) -> int:
    """The size a dead letter of a record of up to `record_bytes` can reach: base64 grows it by 4/3."""
    return 4 * -(-record_bytes // 3) + _LETTER_HEADROOM
