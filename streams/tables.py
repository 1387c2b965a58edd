"""Faust tables written from batches: the dedup window, the view state."""

from __future__ import annotations

from typing import Any

from streams.dedup import expired


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


class SeenTable(ChangelogTable):
    """The dedup window. Each value is `[first receive time, partition]`, so that pruning can
    write the tombstone where the entry is."""

    def get(self, key: str, /) -> float | None:
        """The first receive time of a delivery id (the dedup step's lookup)."""
        value = super().get(key)
        return None if value is None else float(value[0])

    def mark(self, key: str, received_at: float, partition: int) -> None:
        self.set(key, [received_at, partition], partition)

    def prune(self, now: float, window_seconds: float) -> int:
        """Forget entries older than the window, in memory and in the changelog."""
        entries = dict(self.items())
        stale = expired({key: value[0] for key, value in entries.items()}, now, window_seconds)
        for key in stale:
            self.delete(key, entries[key][1])
        return len(stale)
