"""One `Range: bytes=...` header (RFC 9110) over a body of known size: what part to send, or why not."""

from __future__ import annotations

import re

__all__ = ["RangeNotSatisfiable", "byte_range"]

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.I)


class RangeNotSatisfiable(ValueError):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of the part asked for, or None for the whole body (no header, or one this server
    ignores, as RFC 9110 allows: several ranges, another unit). RangeNotSatisfiable past the end."""
    if header is None or (match := _SINGLE.match(header)) is None:
        return None
    first, last = match[1], match[2]
    if not first:
        if not last:
            return None
        suffix = min(int(last), size)
        if suffix == 0:
            raise RangeNotSatisfiable(header)
        return size - suffix, suffix
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or (last and int(last) < start):
        raise RangeNotSatisfiable(header)
    return start, end - start + 1
