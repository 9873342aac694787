"""The unique suffixes this test session gives its throwaway deployments' names, so that at its end it deletes
its own topics on the shared broker and never those of a session running beside it."""

from __future__ import annotations

import uuid

__all__ = ["owned_by_this_session", "throwaway_suffix"]

_handed_out: set[str] = set()


def throwaway_suffix(length: int = 12) -> str:
    """A fresh hex suffix for topic, group and database names, remembered as this session's."""
    suffix = uuid.uuid4().hex[:length]
    _handed_out.add(suffix)
    return suffix


def owned_by_this_session(topic: str) -> bool:
    return any(suffix in topic for suffix in _handed_out)
