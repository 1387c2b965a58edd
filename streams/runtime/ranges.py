"""Reading ranges of partitions with plain confluent-kafka consumers, outside Faust: the one way the
gap repair, `zoomstream replay` and `zoomstream retry-failed` read a topic.

`Offsets` plans a range (where a group resumes, where a partition ends, which offsets a period of
time covers); `RangeReader` reads offsets [start, end) of each planned partition once. Their
consumers never subscribe, so they never join a consumer group, even when they use its id to
look up or commit its offsets.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from streams.runtime.delivery import Delivery


@dataclass(frozen=True)
class Range:
    """Offsets [start, end) of one partition."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return max(self.end - self.start, 0)


def _consumer(bootstrap_servers: str, group_id: str | None) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id or f"zoomstream-range-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )


class Offsets:
    """Offset look-ups with one consumer, kept open (the idle sweep asks every few seconds). With
    a `group_id`, `resume` is that group's committed offset; without one, the log start."""

    def __init__(
        self, bootstrap_servers: str, group_id: str | None = None, timeout: float = 30.0
    ) -> None:
        self._consumer = _consumer(bootstrap_servers, group_id)
        self._timeout = timeout

    def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; none when it does not exist."""
        metadata = self._consumer.list_topics(topic, timeout=self._timeout)
        if topic not in metadata.topics:
            return []
        return sorted(metadata.topics[topic].partitions)

    def resume(self, topic: str, partition: int) -> int:
        """Where the group resumes a partition: its committed offset, else the log start."""
        tp = TopicPartition(topic, partition)
        [committed] = self._consumer.committed([tp], timeout=self._timeout)
        if committed.offset >= 0:
            return int(committed.offset)
        low, _high = self._consumer.get_watermark_offsets(tp, timeout=self._timeout)
        return int(low)

    def end(self, topic: str, partition: int) -> int:
        """The partition's high watermark: the offset the next message will get."""
        _low, high = self._consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=self._timeout, cached=False
        )
        return int(high)

    def unread(self, topics: Iterable[str]) -> list[Range]:
        """Per partition of `topics`: from where the group resumes to the end, where not empty."""
        ranges = [
            Range(topic, partition, self.resume(topic, partition), self.end(topic, partition))
            for topic in topics
            for partition in self.partitions(topic)
        ]
        return [r for r in ranges if r.size]

    def between(self, topic: str, start: datetime, end: datetime) -> list[Range]:
        """Per partition: from the first message at or after `start` to the last before `end`
        (Kafka's timestamps), where not empty."""
        partitions = self.partitions(topic)
        if not partitions:
            return []

        def at(moment: datetime) -> list[TopicPartition]:
            millis = int(moment.timestamp() * 1000)
            found = self._consumer.offsets_for_times(
                [TopicPartition(topic, p, millis) for p in partitions], self._timeout
            )
            return list(found)

        ranges = []
        for first, last in zip(at(start), at(end), strict=True):
            high = self.end(topic, first.partition)
            begin = high if first.offset in (OFFSET_END, -1) else first.offset
            stop = high if last.offset in (OFFSET_END, -1) else last.offset
            ranges.append(Range(topic, first.partition, begin, stop))
        return [r for r in ranges if r.size]

    def close(self) -> None:
        self._consumer.close()


class RangeReader:
    """Reads the ranges once, in batches, then is `done`. A partition is done at its range's end
    or at the partition's end (whatever was removed by retention is skipped, as Kafka does).

    `read` may run in a thread (it blocks); `close` waits for a read still running. `commit`
    stores, for the group the reader was made with, the offset after the last message read of
    each partition (retry-failed resumes there)."""

    def __init__(
        self, bootstrap_servers: str, ranges: Sequence[Range], group_id: str | None = None
    ) -> None:
        self._consumer = _consumer(bootstrap_servers, group_id)
        self._ends = {(r.topic, r.partition): r.end for r in ranges if r.size}
        self._next: dict[tuple[str, int], int] = {}
        self._reading = threading.Lock()
        self._consumer.assign(
            [TopicPartition(r.topic, r.partition, r.start) for r in ranges if r.size]
        )
        self.total = sum(r.size for r in ranges)

    @property
    def done(self) -> bool:
        return not self._ends

    def read(self, limit: int, timeout: float = 1.0) -> list[Delivery]:
        """Up to `limit` messages of the ranges, waiting at most `timeout` for the first one.
        Raises KafkaException when the broker answers with an error."""
        with self._reading:
            return self._read(limit, timeout)

    def _read(self, limit: int, timeout: float) -> list[Delivery]:
        found = []
        for message in self._consumer.consume(limit, timeout=timeout):
            topic, partition = str(message.topic()), int(message.partition() or 0)
            key = (topic, partition)
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._finish(key)
                    continue
                raise KafkaException(error)
            offset = int(message.offset() or 0)
            end = self._ends.get(key)
            if end is None or offset >= end:
                self._finish(key)
                continue
            found.append(Delivery(topic, partition, offset, message.value() or b""))
            self._next[key] = offset + 1
            if offset + 1 >= end:
                self._finish(key)
        return found

    def read_all(self, timeout: float) -> list[Delivery]:
        """Every message of the ranges; KafkaException when they are not read within `timeout`."""
        found: list[Delivery] = []
        deadline = time.monotonic() + timeout
        while not self.done:
            if time.monotonic() > deadline:
                raise KafkaException(f"could not read {self._ends} in {timeout} s")
            found += self.read(500)
        return found

    def _finish(self, key: tuple[str, int]) -> None:
        if self._ends.pop(key, None) is not None:
            self._consumer.incremental_unassign([TopicPartition(*key)])

    def commit(self) -> None:
        """Commit, for the reader's group, the offset after the last message read per partition."""
        if self._next:
            offsets = [TopicPartition(t, p, o) for (t, p), o in self._next.items()]
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        with self._reading:
            self._consumer.close()
