"""The faust-streaming internals zoomstream patches, on fakes of the objects they touch."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.types import TP
from intervaltree import IntervalTree  # type: ignore[import-untyped]

from streams.runtime import faust_internals
from streams.runtime.faust_internals import READ_AGAINST, UnsupportedFaustVersion, check_versions

GUARDED = "unit.guarded.raw"
OTHER = "unit.other"


@pytest.fixture(autouse=True)
def installed() -> None:
    faust_internals.install()
    faust_internals.guard(GUARDED)


def test_the_installed_stream_stack_is_the_one_read() -> None:
    check_versions()


def test_another_faust_streaming_is_refused_with_the_versions_named() -> None:
    with pytest.raises(UnsupportedFaustVersion, match=r"faust-streaming==0\.16\.0") as raised:
        check_versions({**READ_AGAINST, "faust-streaming": "0.16.0"})
    assert "faust-streaming==0.15.3" in str(raised.value)
    with pytest.raises(UnsupportedFaustVersion, match="aiokafka==not installed"):
        check_versions({"faust-streaming": "0.15.3", "mode-streaming": "0.7.1"})


def consumer(committed: int | None, acked: list[int], topic: str = GUARDED) -> Any:
    tp = TP(topic, 0)
    fake = SimpleNamespace(
        _acked=defaultdict(list, {tp: list(acked)}),
        _acked_index=defaultdict(set, {tp: set(acked)}),
        _gap=defaultdict(IntervalTree),
        _committed_offset=defaultdict(lambda: None, {tp: committed}),
    )
    return fake


def new_offset(fake: Any, topic: str = GUARDED) -> int | None:
    offset: int | None = Consumer._new_offset(fake, TP(topic, 0))
    return offset


def test_a_one_offset_hole_at_the_head_holds_the_commit_of_a_guarded_topic() -> None:
    # committed 10 means offset 10 is the next to process: 11 and 12 are acked, 10 is not
    assert new_offset(consumer(10, [11, 12])) is None
    assert new_offset(consumer(10, [10, 11, 12, 14])) == 13


def test_upstream_lets_that_hole_pass_on_other_topics() -> None:
    """faust-streaming issue #606: committed past offset 10, which nothing processed."""
    assert new_offset(consumer(10, [11, 12], OTHER), OTHER) == 13


def test_declared_offsets_let_the_commit_pass_and_count_once() -> None:
    fake = consumer(10, [12, 13, 14])
    tp = TP(GUARDED, 0)
    faust_internals.declare_processed(fake, tp, 8, 13)  # clamped at the committed offset
    assert new_offset(fake) == 15
    assert fake._acked[tp] == []
    assert not fake._gap[tp]


def test_a_declared_end_of_partition_is_committed_without_a_later_ack() -> None:
    fake = consumer(20, [])
    del fake._acked[TP(GUARDED, 0)]  # nothing was ever acked on this partition
    faust_internals.declare_processed(fake, TP(GUARDED, 0), 20, 25)
    assert TP(GUARDED, 0) in fake._acked  # so the commit loop visits it
    assert new_offset(fake) == 25


async def test_a_jump_in_a_guarded_topic_is_not_marked_done() -> None:
    fake = consumer(10, [])
    await Consumer._add_gap(fake, TP(GUARDED, 0), 11, 40)
    assert not fake._gap[TP(GUARDED, 0)]
    other = consumer(10, [], OTHER)
    await Consumer._add_gap(other, TP(OTHER, 0), 11, 40)
    assert [(i.begin, i.end) for i in other._gap[TP(OTHER, 0)]] == [(11, 41)]


def test_committed_offsets_are_those_the_consumer_holds() -> None:
    fake = consumer(10, [])
    assert faust_internals.committed_offsets(fake) == {TP(GUARDED, 0): 10}


async def test_recovery_seeks_before_the_stream_partitions_resume() -> None:
    """Upstream resumes them first and seeks while the flow is live (issue #596): whatever the
    drain loop hands out meanwhile is from before the seek. Here a stand-in drain loop watches
    every loop iteration: stream partitions are never active before the seek has completed, and
    never paused after it (where a fetch would be dropped)."""
    stream, changelog = TP("unit.raw", 0), TP("unit.app-seen-changelog", 0)
    steps: list[str] = []
    active: set[TP] = set()

    async def perform_seek() -> None:
        for _ in range(5):
            await asyncio.sleep(0)
        steps.append("seek")

    def resume_partitions(tps: set[TP]) -> None:
        active.update(tps)
        steps.append("resume")

    async def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    async def wait(coro: Any, timeout: float) -> None:
        await coro

    fake_consumer = SimpleNamespace(
        assignment=lambda: {stream, changelog},
        perform_seek=perform_seek,
        resume_partitions=resume_partitions,
        resume_flow=lambda: steps.append("resume flow"),
    )

    def ignore(*args: Any) -> None:
        return None

    quiet = SimpleNamespace(info=ignore, warning=ignore, dev=ignore)
    recovery: Any = SimpleNamespace(
        app=SimpleNamespace(
            consumer=fake_consumer,
            on_rebalance_complete=SimpleNamespace(send=nothing),
            consumer_generation_id=7,
            flow_control=SimpleNamespace(resume=lambda: steps.append("clear queues")),
            conf=SimpleNamespace(broker_request_timeout=5.0),
            _fetcher=SimpleNamespace(maybe_start=nothing),
            assignor=SimpleNamespace(assigned_standbys=set),
            on_rebalance_end=lambda: steps.append("ready"),
        ),
        log=quiet,
        _set_recovery_ended=lambda: None,
        tables=SimpleNamespace(values=list, on_actives_ready=list, on_standbys_ready=list),
        actives_for_table={},
        standbys_for_table={},
        _is_changelog_tp=lambda tp: tp.topic.endswith("-changelog"),
        completed=asyncio.Event(),
        _wait=wait,
    )
    seen_too_early = seen_paused_after = 0

    async def drain_loop() -> None:
        nonlocal seen_too_early, seen_paused_after
        while "ready" not in steps:
            sought = "seek" in steps
            seen_too_early += bool(active) and not sought
            seen_paused_after += sought and not active
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(drain_loop())
    await Recovery.on_recovery_completed(recovery, 7)
    await watcher
    assert steps == ["seek", "resume", "clear queues", "resume flow", "ready"]
    assert active == {stream}
    assert (seen_too_early, seen_paused_after) == (0, 0)


def test_the_worker_leaves_the_root_logger_at_its_level() -> None:
    """Faust's own Worker turns the root logger to DEBUG for its spinner at WARN; ours does not,
    so libraries' debug calls stay cheap."""
    app = faust.App("unit-spinner", broker="memory://", web_enabled=False)
    for runner, expected in (
        (faust.Worker(app, loglevel="warn", quiet=True), logging.DEBUG),
        (faust_internals.worker(app, "warn"), logging.WARNING),
    ):
        logger = logging.getLogger(f"unit-spinner-{expected}")
        logger.setLevel(logging.WARNING)
        logger.addHandler(logging.NullHandler())
        runner.on_setup_root_logger(logger, logging.WARNING)
        assert logger.level == expected
