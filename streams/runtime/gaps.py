"""Offset gaps: messages the consumer skipped, found by comparing offsets with what was expected.

`zoom.webhooks.raw` is written by an idempotent, non-transactional producer and never compacted,
so its offsets are contiguous: a jump from the next expected offset to a later one means the
consumer dropped messages in between. faust-streaming 0.15.3 did, after a restart with a backlog
(upstream issue #596; fixed in streams/runtime/faust_internals.py, docs/design.md "Skipped offsets"); the
agent still reads any such gap again before acknowledging anything after it.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    partition: int
    start: int  # first missing offset
    end: int  # first offset seen after the gap (exclusive end)


def find_gaps(expected: MutableMapping[int, int], offsets: Iterable[tuple[int, int]]) -> list[Gap]:
    """Gaps in (partition, offset) pairs given the next expected offset per partition.

    Updates `expected` to one past the highest offset seen. A partition without an expected
    offset has none to compare: its first offset is taken as the start.
    """
    gaps: list[Gap] = []
    for partition, offset in sorted(offsets):
        start = expected.get(partition)
        if start is not None and offset > start:
            gaps.append(Gap(partition, start, offset))
        if start is None or offset + 1 > start:
            expected[partition] = offset + 1
    return gaps
