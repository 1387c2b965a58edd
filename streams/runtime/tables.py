"""Faust tables written from batches: the dedup window, the view state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streams.runtime.seen_store import SeenIndex, entry_key, entry_value

ENTRY_MAX_IDS = 4_000
"""About 280 kB of JSON per changelog entry at most."""

Seen = tuple[str, float, int, int]
"""A delivery marked seen: (delivery id, receive time, partition, offset)."""


class ChangelogTable:
    """A Faust table written to the changelog partition of its source, from batches.

    Faust only lets a table be set from inside a stream iteration, where the current event names
    the partition; a batch from `take_events` has no current event. Entries are written after
    their effects are committed, so the partition is passed explicitly, through the table's own
    `send_changelog`, keeping the table co-partitioned with its source topic.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, key: str, /) -> Any:
        return self._table.data.get(key)

    def set(self, key: str, value: Any, partition: int) -> Any:
        """Set the entry; returns the changelog write, which a caller may await (delivered)."""
        future = self._table.send_changelog(partition, key, value)
        self._table.data[key] = value
        return future

    def delete(self, key: str, partition: int) -> None:
        self._table.send_changelog(partition, key, None, value_serializer="raw")
        del self._table.data[key]

    def items(self) -> Any:
        return self._table.data.items()


class SeenTable:
    """The dedup window (a Faust table on `SeenStore`): looked up per delivery, written per batch.

    Each batch's ids go to the changelog as one entry per partition, in the partition of their
    source (co-partitioned), after their effects are committed."""

    def __init__(self, table: Any) -> None:
        self._table = table

    @property
    def _index(self) -> SeenIndex:
        index: SeenIndex = self._table.data.index
        return index

    def __len__(self) -> int:
        return len(self._index)

    def get(self, key: str, /) -> float | None:
        """The first receive time of a delivery id (the dedup step's lookup)."""
        return self._index.get(key)

    def mark(self, deliveries: Sequence[Seen]) -> None:
        """Remember the deliveries of a batch: (id, receive time, partition, offset) each."""
        by_partition: dict[int, list[Seen]] = {}
        for seen in sorted(deliveries, key=lambda seen: seen[3]):
            by_partition.setdefault(seen[2], []).append(seen)
        for partition, group in by_partition.items():
            # Entries stay far below Kafka's 1 MB message limit whatever WORKER_BATCH_SIZE is.
            for start in range(0, len(group), ENTRY_MAX_IDS):
                chunk = group[start : start + ENTRY_MAX_IDS]
                key = entry_key(partition, chunk[0][3])
                ids, at = [i for i, _, _, _ in chunk], max(t for _, t, _, _ in chunk)
                self._table.send_changelog(partition, key, entry_value(ids, at))
                self._index.add(key, partition, ids, at)

    def prune(self, now: float, window_seconds: float) -> int:
        """Forget the entries older than the window, in memory and in the changelog."""
        stale = self._index.expired(now, window_seconds)
        for key in stale:
            partition = self._index.entries[key].partition
            self._table.send_changelog(partition, key, None, value_serializer="raw")
            self._index.forget(key)
        return len(stale)
