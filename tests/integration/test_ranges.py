"""The one range reader (streams/runtime/ranges.py) on a real broker: what the gap repair, replay
and retry-failed read is exactly the range asked for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from streams.runtime.ranges import Offsets, Range, RangeReader
from streams.runtime.reread import PartitionReader
from tests.integration.conftest import BOOTSTRAP, delete_topics

pytestmark = pytest.mark.integration

BASE_MS = 1_764_000_000_000
"""Message i of a partition has the timestamp BASE_MS + i seconds."""


@pytest.fixture
def topic() -> Iterator[str]:
    """A two-partition topic holding ten messages per partition, value `p{partition}-{i}`."""
    prefix = f"ranges-{uuid.uuid4().hex[:8]}."
    name = f"{prefix}topic"
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])[name].result(30)
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    for partition in (0, 1):
        for i in range(10):
            producer.produce(
                name,
                f"p{partition}-{i}".encode(),
                partition=partition,
                timestamp=BASE_MS + i * 1000,
            )
    assert producer.flush(30) == 0
    yield name
    delete_topics(prefix)


def values(reader: RangeReader) -> list[str]:
    try:
        return sorted(d.value.decode() for d in reader.read_all(timeout=30))
    finally:
        reader.close()


def test_a_range_is_read_exactly_and_then_done(topic: str) -> None:
    ranges = [Range(topic, 0, 2, 5), Range(topic, 1, 9, 10), Range(topic, 1, 4, 4)]
    reader = RangeReader(BOOTSTRAP, ranges)
    assert reader.total == 4
    assert values(reader) == ["p0-2", "p0-3", "p0-4", "p1-9"]
    assert reader.done


def test_a_range_past_the_end_stops_at_the_end(topic: str) -> None:
    assert values(RangeReader(BOOTSTRAP, [Range(topic, 0, 8, 50)])) == ["p0-8", "p0-9"]


def test_a_period_of_time_becomes_the_offsets_it_covers(topic: str) -> None:
    offsets = Offsets(BOOTSTRAP)
    try:
        start = datetime.fromtimestamp((BASE_MS + 3000) / 1000, tz=UTC)
        end = datetime.fromtimestamp((BASE_MS + 6000) / 1000, tz=UTC)
        ranges = offsets.between(topic, start, end)
        assert ranges == [Range(topic, 0, 3, 6), Range(topic, 1, 3, 6)]
        after = datetime.fromtimestamp((BASE_MS + 60_000) / 1000, tz=UTC)
        assert offsets.between(topic, after, after) == []
        assert offsets.between(f"{topic}-missing", start, end) == []
    finally:
        offsets.close()


def test_a_group_resumes_after_what_it_committed(topic: str) -> None:
    group = f"ranges-{uuid.uuid4().hex}"
    offsets = Offsets(BOOTSTRAP, group)
    try:
        assert offsets.unread([topic]) == [Range(topic, 0, 0, 10), Range(topic, 1, 0, 10)]
        reader = RangeReader(BOOTSTRAP, [Range(topic, 0, 0, 4), Range(topic, 1, 0, 10)], group)
        try:
            assert len(reader.read_all(timeout=30)) == 14
            reader.commit()
        finally:
            reader.close()
        # Committed for both partitions, the one read to its end (and unassigned) included.
        assert offsets.unread([topic]) == [Range(topic, 0, 4, 10)]
    finally:
        offsets.close()


def test_the_gap_repair_reads_what_it_is_asked_for(topic: str) -> None:
    reader = PartitionReader(BOOTSTRAP, f"ranges-{uuid.uuid4().hex}")
    assert (reader.start_offset(topic, 1), reader.end_offset(topic, 1)) == (0, 10)
    found = reader.read(topic, 1, 6, 8)
    assert [(d.partition, d.offset, d.value) for d in found] == [(1, 6, b"p1-6"), (1, 7, b"p1-7")]
