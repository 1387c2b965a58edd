"""The message every agent consumes: where it came from and its raw bytes."""

from __future__ import annotations


class Delivery:
    """One consumed message: where it came from and its raw bytes."""

    __slots__ = ("offset", "partition", "topic", "value")

    def __init__(self, topic: str, partition: int, offset: int, value: bytes) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.value = value
