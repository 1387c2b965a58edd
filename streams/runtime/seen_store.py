"""The dedup window's Faust store: delivery ids in a compact index, a batch per changelog entry.

A delivery id is the hex SHA-256 of the raw body; the index keeps its first 16 bytes (a chance
collision among a million ids is about 1e-27) and the receive time of the newest delivery in
its batch, in whole seconds, one object shared by the batch (so an id's time is at most a
batch's span late: the window is hours long). About 120 bytes per id, against some 500 for
Faust's memory store with JSON-decoded keys and values. The changelog gets one entry per batch
and partition instead of one per id: key `"{partition}:{first offset}"`, value
`{"ids": [...], "at": newest receive time}`, so redoing a batch after a crash writes the same
entry again. An entry is pruned (a tombstone) once it has left the window. Entries of the
earlier format (key: the id, value: `[time, partition]`) are still read.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from faust.stores import memory

log = logging.getLogger(__name__)

DIGEST_BYTES = 16
STORE_URL = "zoomstream-seen://local"  # the host is a label: an empty URL is false to Faust


def release_freed_memory() -> None:
    """Hand the memory freed after a restore (fetch buffers, decoded entries) back to the
    system: glibc keeps freed heap pages otherwise, and RSS stays at the restore's peak."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to trim this way
        pass


def digest(delivery_id: str) -> bytes:
    """The index key of a delivery id: its first 16 bytes, or those of its SHA-256 when the id
    is not hex (an id from elsewhere is still deduplicated, just not by its own bytes)."""
    try:
        raw = bytes.fromhex(delivery_id)
    except ValueError:
        raw = b""
    if len(raw) < DIGEST_BYTES:
        raw = hashlib.sha256(delivery_id.encode()).digest()
    return raw[:DIGEST_BYTES]


def entry_key(partition: int, first_offset: int) -> str:
    return f"{partition}:{first_offset}"


def entry_value(ids: Sequence[str], at: float) -> dict[str, Any]:
    return {"ids": list(ids), "at": at}


@dataclass(frozen=True)
class Entry:
    """One changelog entry as the index holds it."""

    partition: int
    digests: tuple[bytes, ...]
    at: int
    """The newest receive time among the entry's deliveries, in whole seconds."""


class SeenIndex:
    """Delivery id → first receive time, and which changelog entry holds it. Pure."""

    def __init__(self) -> None:
        self.first: dict[bytes, int] = {}
        self.entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self.first)

    def get(self, delivery_id: str) -> float | None:
        at = self.first.get(digest(delivery_id))
        return None if at is None else float(at)

    def add(self, key: str, partition: int, ids: Sequence[str], at: float) -> None:
        """Hold the entry; an id already held keeps its time unless this one is newer (its
        earlier entry then no longer owns it)."""
        self.forget(key)
        seconds = int(at)
        digests = tuple(digest(i) for i in ids)
        for d in digests:
            if self.first.get(d, -1) < seconds:
                self.first[d] = seconds
        self.entries[key] = Entry(partition, digests, seconds)

    def load(self, key: str, partition: int, value: Any) -> None:
        """An entry read back from the changelog, in either format."""
        if isinstance(value, dict):
            self.add(key, partition, value["ids"], float(value["at"]))
        else:  # the earlier format: key is the id, value [time, partition]
            self.add(key, int(value[1]), [key], float(value[0]))

    def forget(self, key: str) -> None:
        """Drop the entry and the ids it still owns (those not seen again since)."""
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        for d in entry.digests:
            if self.first.get(d) == entry.at:
                del self.first[d]

    def expired(self, now: float, window_seconds: float) -> list[str]:
        """Entries whose every id is older than the window."""
        return [key for key, e in self.entries.items() if now - e.at > window_seconds]

    def keep_partitions(self, partitions: set[int]) -> None:
        for key in [k for k, e in self.entries.items() if e.partition not in partitions]:
            self.forget(key)


class SeenStore(memory.Store[str, Any]):
    """Faust's memory store with the index in place of its dictionary."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.index = SeenIndex()

    def _clear(self) -> None:
        self.index = SeenIndex()

    def apply_changelog_batch(
        self,
        batch: Iterable[Any],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        for event in batch:
            key = to_key(event.key)
            if event.message.value is None:
                self.index.forget(key)
            else:
                self.index.load(key, event.message.partition, to_value(event.value))

    async def on_recovery_completed(self, active_tps: set[Any], standby_tps: set[Any]) -> None:
        self.index.keep_partitions({tp.partition for tp in active_tps})
        release_freed_memory()
        log.info(
            "dedup window restored: %d delivery ids in %d entries",
            len(self.index),
            len(self.index.entries),
        )
