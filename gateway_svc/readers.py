"""The gateway's own Kafka readers (the projection, the live feed): a consumer and the task reading it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer

__all__ = ["start_consumer", "stop_reader"]


async def start_consumer(
    consumer: AIOKafkaConsumer, ready: Callable[[], Awaitable[None]] | None = None
) -> None:
    """Start `consumer` and wait for `ready`; if either fails, close it, as it may have connected already."""
    try:
        await consumer.start()
        if ready is not None:
            await ready()
    except BaseException:
        await consumer.stop()
        raise


async def stop_reader(task: asyncio.Task[None] | None, consumer: AIOKafkaConsumer | None) -> None:
    """Stop reading, then close the consumer, even if the reading had failed; either may not have started."""
    try:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        if consumer is not None:
            await consumer.stop()
