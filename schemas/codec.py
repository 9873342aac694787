"""Bytes <-> events, with one readable reason whenever a payload is refused."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.envelope import ID_PATTERN, Envelope
from schemas.events import TaskEvent

__all__ = ["InvalidEvent", "decode_event", "encode_event", "event_types", "read_task_id", "read_tenant"]

_ADAPTER: TypeAdapter[TaskEvent] = TypeAdapter(TaskEvent)
_MAX_ERRORS_SHOWN = 5


class InvalidEvent(ValueError):
    """A payload that is not a valid Troupe event. `reason` is meant for people and dead letters."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def event_types() -> dict[str, type[Envelope]]:
    """Event type name -> model, for every task event."""
    union = TaskEvent.__origin__.__args__  # type: ignore[attr-defined]
    return {cls.model_fields["type"].default: cls for cls in union}


def encode_event(event: Envelope) -> bytes:
    return event.model_dump_json().encode()


def decode_event(raw: bytes | str | dict[str, Any]) -> TaskEvent:
    data = raw if isinstance(raw, dict) else _load_json(raw)
    kind = data.get("type")
    known = event_types()
    if kind not in known:
        raise InvalidEvent(f"unknown event type {kind!r}; known types: {', '.join(sorted(known))}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid {kind} event: {_describe(exc)}") from exc


def read_task_id(raw: bytes | str | dict[str, Any]) -> str | None:
    """The task id of a payload that may be otherwise broken, so a rejection can still be tied to its task."""
    return _read_id(raw, "task_id")


def read_tenant(raw: bytes | str | dict[str, Any]) -> str | None:
    """The tenant of a payload that may be otherwise broken, so its owner can see the rejection."""
    return _read_id(raw, "tenant")


def _read_id(raw: bytes | str | dict[str, Any], field: str) -> str | None:
    try:
        data = raw if isinstance(raw, dict) else _load_json(raw)
    except InvalidEvent:
        return None
    value = data.get(field)
    return value if isinstance(value, str) and re.fullmatch(ID_PATTERN, value) else None


def _load_json(raw: bytes | str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidEvent(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidEvent(f"payload must be a JSON object, got {type(data).__name__}")
    return data


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:_MAX_ERRORS_SHOWN]:
        where = ".".join(str(p) for p in err["loc"] if p not in event_types())
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    more = exc.error_count() - _MAX_ERRORS_SHOWN
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
