"""The gap repair: offsets the Faust consumer skipped, found and read again outside the group."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from confluent_kafka import KafkaException

from streams.runtime.delivery import Delivery
from streams.runtime.gaps import Gap, find_gaps
from streams.runtime.ranges import Offsets, Range, RangeReader

log = logging.getLogger(__name__)


class PartitionReader:
    """The gap repair's reader: where the group resumes and where a partition ends (`Offsets`
    of the group's id), and a range read again (`RangeReader`)."""

    def __init__(self, bootstrap_servers: str, group_id: str) -> None:
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._lookups: Offsets | None = None

    def _offsets(self) -> Offsets:
        if self._lookups is None:
            self._lookups = Offsets(self._bootstrap, self._group_id, timeout=10)
        return self._lookups

    def start_offset(self, topic: str, partition: int) -> int:
        return self._offsets().resume(topic, partition)

    def end_offset(self, topic: str, partition: int) -> int:
        return self._offsets().end(topic, partition)

    def read(
        self, topic: str, partition: int, start: int, end: int, timeout: float = 60.0
    ) -> list[Delivery]:
        """The messages at offsets [start, end). Raises KafkaException if they cannot be read."""
        reader = RangeReader(self._bootstrap, [Range(topic, partition, start, end)])
        try:
            return reader.read_all(timeout)
        finally:
            reader.close()


T = TypeVar("T")


async def patiently(call: Callable[..., T], *args: Any) -> T:
    """Run a blocking Kafka look-up in a thread, again and again while the broker is away: the
    batch waits for it, as it waits for PostgreSQL, and the worker never crashes for it."""
    delay = 0.5
    while True:
        try:
            return await asyncio.to_thread(call, *args)
        except KafkaException as exc:
            log.warning("Kafka look-up failed (%s); again in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class Reader(Protocol):
    """What the gap repair reads with (`PartitionReader`; a fake in the unit tests)."""

    def start_offset(self, topic: str, partition: int) -> int: ...

    def end_offset(self, topic: str, partition: int) -> int: ...

    def read(self, topic: str, partition: int, start: int, end: int) -> list[Delivery]: ...


Owns = Callable[[int], bool]
"""Whether this worker still owns a partition of the topic, in the consumer generation the repair
pass began in (no rebalance since). Checked again after every await of a pass."""


class GapRepair:
    """Finds the offsets of `topic` that the Faust consumer skipped and reads them again: a safety
    net, since streams/runtime/faust_internals.py removes the cause Faust had for skipping.

    `fill` checks each batch against the next expected offset per partition; `sweep`, called
    when the agent has been idle, compares that expectation with the partition's end, because a
    skipped run at the end of a partition shows no later offset to give it away. A rebalance may
    come during any of their awaits: a partition no longer owned (`owns`) is dropped from the
    pass and its expectation forgotten; the next owner starts from the committed offset.
    """

    def __init__(self, reader: Reader, topic: str) -> None:
        self._reader = reader
        self._topic = topic
        self._expected: dict[int, int] = {}

    def reset(self) -> None:
        """Forget every expectation: after a rebalance the consumer resumes from the committed
        offsets, which are looked up again."""
        self._expected.clear()

    def _drop(self, partition: int) -> None:
        self._expected.pop(partition, None)

    async def _know(self, partitions: Iterable[int], owns: Owns) -> None:
        for partition in sorted(set(partitions) - self._expected.keys()):
            if not owns(partition):
                continue
            start = await patiently(self._reader.start_offset, self._topic, partition)
            if owns(partition):
                self._expected.setdefault(partition, start)

    async def _read(self, gap: Gap) -> list[Delivery]:
        log.warning(
            "consumer skipped %s[%d] offsets %d..%d; reading them again",
            self._topic,
            gap.partition,
            gap.start,
            gap.end - 1,
        )
        return await patiently(self._reader.read, self._topic, gap.partition, gap.start, gap.end)

    async def fill(
        self, deliveries: list[Delivery], owns: Owns
    ) -> tuple[list[Delivery], list[Gap]]:
        """The batch with any skipped messages before it read again and put in front, and the
        gaps so filled. Partitions no longer owned are passed through unchecked."""
        partitions = {d.partition for d in deliveries}
        await self._know(partitions, owns)
        checked = {p for p in partitions if p in self._expected and owns(p)}
        tracked = [(d.partition, d.offset) for d in deliveries if d.partition in checked]
        repaired: list[Delivery] = []
        filled: list[Gap] = []
        for gap in find_gaps(self._expected, tracked):
            found = await self._read(gap) if owns(gap.partition) else []
            if not owns(gap.partition):
                self._drop(gap.partition)
                continue
            repaired += found
            filled.append(gap)
        return repaired + deliveries, filled

    async def sweep(
        self, partitions: Iterable[int], owns: Owns
    ) -> tuple[list[Delivery], list[Gap]]:
        """Messages between the expected offset and the end of each partition, read directly,
        and the gaps so filled."""
        repaired: list[Delivery] = []
        filled: list[Gap] = []
        for partition in sorted(set(partitions)):
            await self._know([partition], owns)
            if partition not in self._expected or not owns(partition):
                continue
            end = await patiently(self._reader.end_offset, self._topic, partition)
            start = self._expected.get(partition)
            if start is None or not owns(partition):
                self._drop(partition)
                continue
            if end <= start:
                continue
            gap = Gap(partition, start, end)
            found = await self._read(gap)
            if not owns(partition) or self._expected.get(partition) != start:
                self._drop(partition)
                continue
            self._expected[partition] = end
            repaired += found
            filled.append(gap)
        return repaired, filled
