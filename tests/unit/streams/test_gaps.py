"""Gaps in offsets, the repair that reads them again, and the source that must survive both."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from intervaltree import IntervalTree  # type: ignore[import-untyped]

from streams.runtime.delivery import Delivery
from streams.runtime.gaps import Gap, find_gaps
from streams.runtime.reread import GapRepair
from streams.runtime.sources import RepairedSource

TOPIC = "t.zoom.webhooks.raw"


def test_contiguous_offsets_have_no_gaps_and_advance_expectation() -> None:
    expected = {0: 10}
    assert find_gaps(expected, [(0, 10), (0, 11), (1, 5)]) == []
    assert expected == {0: 12, 1: 6}


def test_a_jump_is_a_gap_per_partition() -> None:
    expected = {0: 10, 3: 62}
    assert find_gaps(expected, [(3, 68), (0, 10), (0, 15), (3, 69)]) == [
        Gap(0, 11, 15),
        Gap(3, 62, 68),
    ]
    assert expected == {0: 16, 3: 70}


def test_offsets_read_again_after_a_seek_back_are_not_gaps() -> None:
    expected = {0: 20}
    assert find_gaps(expected, [(0, 12), (0, 13)]) == []
    assert expected == {0: 20}


def delivery(partition: int, offset: int) -> Delivery:
    return Delivery(TOPIC, partition, offset, b"%d" % offset)


@dataclass
class FakeReader:
    """A partition log of `ends[p]` offsets per partition, committed at `committed[p]`;
    `during` runs inside a look-up, as a rebalance would while the repair awaits it."""

    committed: dict[int, int]
    ends: dict[int, int]
    during: Callable[[str, int], None] = lambda call, partition: None
    reads: list[tuple[int, int, int]] = field(default_factory=list)

    def start_offset(self, topic: str, partition: int) -> int:
        self.during("start_offset", partition)
        return self.committed[partition]

    def end_offset(self, topic: str, partition: int) -> int:
        self.during("end_offset", partition)
        return self.ends[partition]

    def read(self, topic: str, partition: int, start: int, end: int) -> list[Delivery]:
        self.during("read", partition)
        self.reads.append((partition, start, end))
        return [delivery(partition, offset) for offset in range(start, end)]


class Ownership:
    def __init__(self, *partitions: int) -> None:
        self.owned = set(partitions)

    def __call__(self, partition: int) -> bool:
        return partition in self.owned


async def test_a_batch_gets_the_skipped_offsets_in_front() -> None:
    reader = FakeReader(committed={0: 10}, ends={0: 20})
    repair = GapRepair(reader, TOPIC)
    filled, gaps = await repair.fill([delivery(0, 13), delivery(0, 14)], Ownership(0))
    assert [d.offset for d in filled] == [10, 11, 12, 13, 14]
    assert gaps == [Gap(0, 10, 13)]


async def test_a_sweep_reads_what_is_left_at_the_end_of_each_partition() -> None:
    reader = FakeReader(committed={0: 10, 1: 4}, ends={0: 12, 1: 4})
    repair = GapRepair(reader, TOPIC)
    found, gaps = await repair.sweep([0, 1], Ownership(0, 1))
    assert [(d.partition, d.offset) for d in found] == [(0, 10), (0, 11)]
    assert gaps == [Gap(0, 10, 12)]
    assert await repair.sweep([0, 1], Ownership(0, 1)) == ([], [])


async def test_a_partition_revoked_during_a_sweep_is_dropped_not_a_key_error() -> None:
    """The stall past the session timeout: the rebalance lands while the sweep awaits."""
    owned = Ownership(0, 1)
    repair: GapRepair

    def rebalance(call: str, partition: int) -> None:
        if call == "end_offset" and partition == 0:
            owned.owned.discard(0)
            repair.reset()

    reader = FakeReader(committed={0: 10, 1: 4}, ends={0: 15, 1: 6}, during=rebalance)
    repair = GapRepair(reader, TOPIC)
    found, gaps = await repair.sweep([0, 1], owned)
    assert gaps == [Gap(1, 4, 6)]
    assert {d.partition for d in found} == {1}


async def test_a_partition_revoked_while_its_gap_is_read_is_left_to_its_next_owner() -> None:
    owned = Ownership(0)
    reader = FakeReader(
        committed={0: 10},
        ends={0: 20},
        during=lambda call, partition: owned.owned.clear() if call == "read" else None,
    )
    filled, gaps = await GapRepair(reader, TOPIC).fill([delivery(0, 13)], owned)
    assert gaps == []
    assert [d.offset for d in filled] == [13]


async def test_partitions_not_owned_or_unknown_are_not_looked_up() -> None:
    reader = FakeReader(committed={0: 10}, ends={0: 10})
    repair = GapRepair(reader, TOPIC)
    filled, gaps = await repair.fill([delivery(5, 3)], Ownership(0))
    assert ([(d.partition, d.offset) for d in filled], gaps) == ([(5, 3)], [])
    assert await repair.sweep([5], Ownership(0)) == ([], [])
    assert reader.reads == []


def fake_app(*partitions: int) -> Any:
    consumer = SimpleNamespace(
        assigned={TP(TOPIC, p) for p in partitions},
        _committed_offset=defaultdict(lambda: None),
        _gap=defaultdict(IntervalTree),
    )
    consumer.assignment = lambda: consumer.assigned
    return SimpleNamespace(
        conf=SimpleNamespace(id="t.zoomstream"),
        consumer=consumer,
        consumer_generation_id=1,
        rebalancing=False,
        in_recovery=False,
    )


async def test_the_sweep_never_raises_and_declares_what_it_handled() -> None:
    app = fake_app(0, 1)
    handled: list[Delivery] = []

    async def handle(deliveries: list[Delivery]) -> None:
        handled.extend(deliveries)

    reader = FakeReader(committed={0: 10, 1: 7}, ends={0: 13, 1: 7})
    source = RepairedSource(app, reader, TOPIC, handle, asyncio.Lock())
    source.last_batch = 0.0
    await source.sweep(idle_seconds=5.0)
    assert [d.offset for d in handled] == [10, 11, 12]
    assert [(i.begin, i.end) for i in app.consumer._gap[TP(TOPIC, 0)]] == [(10, 13)]

    async def failing(deliveries: list[Delivery]) -> None:
        raise RuntimeError("the handler broke")

    broken = RepairedSource(app, FakeReader({0: 0}, {0: 2}), TOPIC, failing, asyncio.Lock())
    broken.last_batch = 0.0
    await broken.sweep(idle_seconds=5.0)  # logged, not raised


async def test_a_rebalance_during_a_sweep_declares_nothing_for_the_old_generation() -> None:
    app = fake_app(0)

    def rebalance(call: str, partition: int) -> None:
        if call == "read":
            app.consumer_generation_id = 2

    async def handle(deliveries: list[Delivery]) -> None:
        raise AssertionError("nothing of the old generation is handled")

    source = RepairedSource(
        app, FakeReader({0: 10}, {0: 12}, during=rebalance), TOPIC, handle, asyncio.Lock()
    )
    source.last_batch = 0.0
    await source.sweep(idle_seconds=5.0)
    assert not app.consumer._gap[TP(TOPIC, 0)]


async def test_no_sweep_while_the_group_rebalances() -> None:
    app = fake_app(0)
    app.rebalancing = True
    reader = FakeReader({0: 10}, {0: 12})
    source = RepairedSource(app, reader, TOPIC, lambda d: asyncio.sleep(0), asyncio.Lock())
    source.last_batch = 0.0
    await source.sweep(idle_seconds=5.0)
    assert reader.reads == []


def event(partition: int, offset: int) -> Any:
    message = SimpleNamespace(topic=TOPIC, partition=partition, offset=offset)
    return SimpleNamespace(message=message, value=b"%d" % offset)


async def test_a_sweep_that_waited_for_a_batch_reads_nothing_that_batch_was_handed() -> None:
    """The sweep's idle check is made again once it holds the lock: the batch it waited for
    had been handed records that the partition end already counts."""
    app = fake_app(0)
    reader = FakeReader({0: 0}, {0: 400})
    release = asyncio.Event()
    handled: list[int] = []

    async def slow_handle(deliveries: list[Delivery]) -> None:
        await release.wait()
        handled.extend(d.offset for d in deliveries)

    source = RepairedSource(app, reader, TOPIC, slow_handle, asyncio.Lock())
    source.last_batch = 0.0
    batch = asyncio.ensure_future(source.batch([event(0, n) for n in range(18)]))
    await asyncio.sleep(0.05)  # the batch holds the lock, its handler waits
    sweep = asyncio.ensure_future(source.sweep(idle_seconds=5.0))
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(batch, sweep)
    assert handled == list(range(18))
    assert reader.reads == []
