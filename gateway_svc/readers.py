"""The gateway's own Kafka readers (the projection, the live feed): a consumer and the task reading it."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaConsumer

__all__ = ["stop_reader"]


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
