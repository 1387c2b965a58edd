"""The dedup window's compact index and its changelog entries, against a plain model."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.runtime import tables
from streams.runtime.seen_store import SeenIndex, SeenStore, digest, entry_key, entry_value
from streams.runtime.tables import SeenTable

WINDOW = 7200.0


def hex_id(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_an_id_is_found_by_its_digest_with_its_batch_time_in_whole_seconds() -> None:
    index = SeenIndex()
    index.add(entry_key(3, 40), 3, [hex_id(1), hex_id(2)], 101.7)
    assert index.get(hex_id(1)) == 101.0
    assert index.get(hex_id(2)) == 101.0
    assert index.get(hex_id(3)) is None
    assert len(index) == 2


def test_an_id_that_is_not_hex_is_indexed_by_its_own_hash() -> None:
    assert digest("not hex at all") == hashlib.sha256(b"not hex at all").digest()[:16]
    assert digest("ab") != digest("ac")  # too short to be a SHA-256: hashed too
    index = SeenIndex()
    index.add("0:0", 0, ["not hex at all"], 5.0)
    assert index.get("not hex at all") == 5.0


def test_an_entry_expires_only_when_it_has_left_the_window() -> None:
    index = SeenIndex()
    index.add("0:0", 0, [hex_id(1), hex_id(2)], 1000.0)
    index.add("0:2", 0, [hex_id(3)], 5000.0)
    assert index.expired(1000.0 + WINDOW, WINDOW) == []
    assert index.expired(1001.0 + WINDOW, WINDOW) == ["0:0"]


def test_forgetting_an_entry_keeps_the_ids_seen_again_in_a_later_one() -> None:
    index = SeenIndex()
    index.add("0:0", 0, [hex_id(1), hex_id(2)], 0.0)
    index.add("1:7", 1, [hex_id(1)], 8000.0)  # processed again after the window
    index.forget("0:0")
    assert index.get(hex_id(1)) == 8000.0
    assert index.get(hex_id(2)) is None


def test_only_the_assigned_partitions_are_kept() -> None:
    index = SeenIndex()
    index.add("0:0", 0, [hex_id(1)], 1.0)
    index.add("1:0", 1, [hex_id(2)], 1.0)
    index.keep_partitions({1})
    assert index.get(hex_id(1)) is None and index.get(hex_id(2)) == 1.0
    assert list(index.entries) == ["1:0"]


@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just("add"),
                st.integers(0, 5),
                st.sets(st.integers(0, 8), max_size=6),
                st.integers(0, 10_000),
            ),
            st.tuples(st.just("forget"), st.integers(0, 5), st.just(frozenset()), st.just(0)),
        ),
        max_size=30,
    )
)
def test_the_index_agrees_with_a_model_of_entries(
    ops: list[tuple[str, int, frozenset[int], int]],
) -> None:
    """Whatever the order of adds (a redone batch rewrites its entry) and forgets (tombstones),
    what a batch marked is found at once, and the index holds no id or time that no entry
    names."""
    index = SeenIndex()
    model: dict[str, tuple[frozenset[int], int]] = {}
    for op, entry, ids, at in ops:
        key = entry_key(0, entry)
        if op == "add":
            index.add(key, 0, [hex_id(n) for n in ids], float(at))
            model[key] = (frozenset(ids), at)
            for n in ids:  # what a batch just marked is a duplicate from now on
                found = index.get(hex_id(n))
                assert found is not None and found >= at
        else:
            index.forget(key)
            model.pop(key, None)
    for n in range(9):
        times = [at for ids, at in model.values() if n in ids]
        found = index.get(hex_id(n))
        # Forgetting the entry that owns an id's time may drop the id, or leave an older time,
        # while another entry still names it (a redelivery then costs a database round trip,
        # no more: the unique keys make it a no-op).
        if not times:
            assert found is None
        else:
            assert found is None or found in times
    assert len(index) <= sum(len(ids) for ids, _ in model.values())


@dataclass
class Message:
    value: bytes | None
    partition: int


@dataclass
class Event:
    key: Any
    value: Any
    message: Message


def test_the_store_restores_both_changelog_formats_and_tombstones() -> None:
    store = SeenStore.__new__(SeenStore)
    store.__post_init__()
    events = [
        Event(entry_key(2, 10), entry_value([hex_id(1), hex_id(2)], 60.5), Message(b"x", 2)),
        Event(hex_id(3), [70.5, 4], Message(b"x", 4)),  # the earlier format: one id per entry
        Event(hex_id(4), [80.0, 4], Message(b"x", 4)),
        Event(hex_id(4), None, Message(None, 4)),  # pruned
    ]
    store.apply_changelog_batch(events, lambda k: k, lambda v: v)
    index = store.index
    assert (index.get(hex_id(1)), index.get(hex_id(2)), index.get(hex_id(3))) == (60.0, 60.0, 70.0)
    assert index.get(hex_id(4)) is None
    assert index.entries[hex_id(3)].partition == 4


class FakeTable:
    """What SeenTable uses of a Faust table: the store and `send_changelog`."""

    def __init__(self) -> None:
        self.data = SimpleNamespace(index=SeenIndex())
        self.sent: list[tuple[int, str, Any]] = []

    def send_changelog(self, partition: int, key: str, value: Any, **_options: Any) -> None:
        self.sent.append((partition, key, value))


def test_a_batch_is_one_changelog_entry_per_partition_then_pruned_where_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tables, "ENTRY_MAX_IDS", 3)
    fake = FakeTable()
    seen = SeenTable(fake)
    seen.mark(
        [(hex_id(n), 1000.0 + n, n % 2, 50 - n) for n in range(8)]  # offsets in any order
    )
    assert [(p, k) for p, k, _ in fake.sent] == [(1, "1:43"), (1, "1:49"), (0, "0:44"), (0, "0:50")]
    assert fake.sent[0][2] == {"ids": [hex_id(7), hex_id(5), hex_id(3)], "at": 1007.0}
    assert len(seen) == 8 and seen.get(hex_id(6)) == 1006.0
    fake.sent.clear()
    assert seen.prune(1005.0 + WINDOW + 1, WINDOW) == 2  # the entries whose newest is 1005 or less
    assert sorted((p, k, v) for p, k, v in fake.sent) == [(0, "0:50", None), (1, "1:49", None)]
    assert seen.get(hex_id(0)) is None and seen.get(hex_id(7)) == 1007.0
