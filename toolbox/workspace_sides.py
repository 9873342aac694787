"""Keeps the host's file tools and the sandboxes out of a task's workspace at the same time.

Code in a sandbox can reshape the workspace (swap a folder for a symlink, make a FIFO) while a host-side file
tool walks it. `toolbox/beneath.py` already keeps such a walk inside the workspace; this makes the two sides
take turns as well, so a host-side tool never sees the tree while sandboxed code is changing it. Any number of
steps of one side run together; the other side waits until they are done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

__all__ = ["Side", "WorkspaceSides"]

Side = Literal["host", "sandbox"]


class WorkspaceSides:
    def __init__(self) -> None:
        self._holder: Side | None = None
        self._count = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def use(self, side: Side) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: self._holder in (None, side))
            self._holder = side
            self._count += 1
        try:
            yield
        finally:
            async with self._changed:
                self._count -= 1
                if self._count == 0:
                    self._holder = None
                    self._changed.notify_all()
