"""Stopping a test's Kafka client without letting a stuck stop hang the whole run."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol


class Stoppable(Protocol):
    async def stop(self) -> None: ...


async def stop_within(client: Stoppable, seconds: float = 30) -> None:
    """Stop `client`, giving up after `seconds`: a test's throwaway consumer or producer leaves nothing that
    matters behind, while an aiokafka stop that never returns (seen once in a hundred runs, during a
    rebalance after a kill -9) would hang the suite until CI's limit."""
    try:
        async with asyncio.timeout(seconds):
            await client.stop()
    except TimeoutError:
        logging.getLogger(__name__).warning(
            "%s.stop() took over %s s; left behind", type(client).__name__, seconds
        )
