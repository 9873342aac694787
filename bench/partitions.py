"""Which partition a key lands on, by the producers' default partitioner (Kafka's murmur2)."""

from __future__ import annotations

from itertools import count, islice

from aiokafka.partitioner import DefaultPartitioner

__all__ = ["keys_on_partition", "partition_of"]


def partition_of(key: bytes, partitions: int) -> int:
    """The partition aiokafka's producer (the services' and the bench's) sends a keyed record to."""
    chosen: int = DefaultPartitioner()(key, list(range(partitions)), [])
    return chosen


def keys_on_partition(prefix: str, partition: int, partitions: int, wanted: int) -> list[str]:
    """The first `wanted` keys `{prefix}-{n}` that land on `partition`."""
    keys = (f"{prefix}-{n}" for n in count())
    return list(islice((k for k in keys if partition_of(k.encode(), partitions) == partition), wanted))
