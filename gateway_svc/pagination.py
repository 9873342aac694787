"""Opaque page cursors: the (time, id) of the last item shown, so pages stay stable while items arrive."""

from __future__ import annotations

import base64
import json
from datetime import datetime

__all__ = ["BadCursor", "decode_cursor", "encode_cursor", "to_millis"]


class BadCursor(ValueError):
    """A cursor this gateway did not hand out."""


def to_millis(time: datetime) -> datetime:
    """MongoDB keeps milliseconds: a cursor finer than what is stored would skip or repeat items."""
    return time.replace(microsecond=time.microsecond // 1000 * 1000)


def encode_cursor(time: datetime, item_id: str) -> str:
    raw = json.dumps([to_millis(time).isoformat(), item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        time, item_id = json.loads(raw)
        return datetime.fromisoformat(time), str(item_id)
    except (ValueError, TypeError) as exc:
        raise BadCursor(f"invalid cursor {cursor!r}: use the next_cursor of the previous page") from exc
