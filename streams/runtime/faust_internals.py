"""Every use zoomstream makes of faust-streaming's internals, checked against the version read.

The worker needs a few things faust-streaming 0.15.3 has no public API for, and two of its methods
lose records (docs/design.md, "Skipped offsets"). All of it is here, read against the installed
faust-streaming 0.15.3 (with aiokafka 0.14.0 and mode-streaming 0.7.1, the pins in pyproject.toml);
`check_versions` refuses any other version at start-up, because each item below is a reading of
that version's source. Line numbers are those of the installed files.

Patched methods (`install`):

- `faust.tables.recovery.Recovery.on_recovery_completed` (tables/recovery.py L624-667). Since
  upstream PR #241 (commit 6f3c7830) it resumes the stream partitions (L649) and only then awaits
  the seek to the committed offsets (L652-656), while the flow is live: recovery resumed it to
  read the changelogs (L448-452; L477-479 when there was nothing to restore). The drain loop
  (transport/consumer.py L1170-1245) hands the agents the records aiokafka prefetched during
  recovery; the seek sets `_read_offset` back to the committed offset; `flow_control.resume()`
  (L659; mode/utils/queues.py L97-101, channels.py L143-146) empties the agents' queues; the drain
  loop, still going through its pre-seek batch, sees the jump and marks the range done
  (`_add_gap`, L1211-1215); the records fetched again from the committed offset are dropped as
  already read (`offset < r_offset`, L1209; "DROPPED MESSAGE ROFF", L1224-1230, a dev-level log).
  Those that were in the cleared queues never reach an agent (upstream issue #596). The patched
  method seeks while the stream partitions are still paused, then resumes them, empties the
  queues and resumes the flow in the same step as the seek's completion, so that nothing fetched
  before the seek is handed out after it.
- `faust.transport.consumer.Consumer._add_gap` (L1157-1168), for guarded topics only (`guard`):
  the drain loop calls it when the offsets it reads jump, which on a topic with contiguous offsets
  is a skip, not an absent offset; upstream lets commits pass offsets no agent processed. For a
  guarded topic it logs the jump and declares nothing; the gap repair (streams/runtime/reread.py) reads
  the range and declares it with `declare_processed` once handled.
- `faust.transport.consumer.Consumer._new_offset` (L1097-1151), for guarded topics only: the head
  check `min(acked) - committed > 1` (L1138-1141) lets a one-offset hole at the head of the acked
  run be committed (upstream issue #606; PR #707, unmerged, caps at in-flight messages only, and
  a record cleared from a queue is not in flight). For a guarded topic any hole at the head holds
  the commit, and an offset both acked and declared counts once: upstream's merge leaves it twice
  in the acked list, which breaks the consecutive run, and commits then advance by one offset
  per commit interval.

The worker's terminal spinner (`worker`):

- `faust.Worker.spinner` (worker.py L257, L375-390): the worker always makes one, and at a log
  level of WARN or above `_setup_spinner_handler` sets the root logger to DEBUG so that the
  spinner turns on every record. Every debug call of aiokafka, Faust and mode then builds a log
  record on the event loop (aiokafka logs each message it sends and each request): 5 % of the
  worker's event loop under the pipeline bench. `worker` builds the Worker without it, as it
  is at INFO and below.

Stores (`register_store`):

- `faust.stores.STORES.aliases` (stores/__init__.py): Faust builds a table's store from its URL's
  scheme only; the dedup window's `SeenStore` (streams/runtime/seen_store.py) is registered under
  its scheme by `create_worker`, not at import time.

Private attributes read or written (no public equivalent):

- `Consumer._committed_offset`: the committed offset per partition, for the lag metric
  (`committed_offsets`) and to clamp declared ranges.
- `Consumer._gap`: the ranges declared done, where `declare_processed` adds what the gap repair
  handled (upstream uses it for offsets that need no ack, such as transaction markers).
- `Consumer._acked`, `Consumer._acked_index`: read and trimmed by the patched `_new_offset`, as
  upstream does; `declare_processed` lists the partition in `_acked` so that the commit loop
  visits it even if nothing is acked there afterwards.
- Inside the patched `on_recovery_completed`, as upstream: `Recovery._set_recovery_ended`,
  `actives_for_table`, `standbys_for_table`, `_is_changelog_tp`, `_wait`, `completed`, and
  `app._fetcher`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import faust
import faust.stores
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)

READ_AGAINST = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}
"""The distributions whose source this module was read against, and their versions."""

_guarded: set[str] = set()
_upstream_add_gap = Consumer._add_gap
_upstream_new_offset = Consumer._new_offset


class UnsupportedFaustVersion(RuntimeError):
    """The installed stream stack is not the one streams/runtime/faust_internals.py was read against."""


def check_versions(installed: Mapping[str, str] | None = None) -> None:
    """Refuse to run on a stream stack other than the one the patches were read against."""
    found = installed if installed is not None else _installed_versions()
    wrong = {
        name: found.get(name)
        for name, version in READ_AGAINST.items()
        if found.get(name) != version
    }
    if wrong:
        expected = ", ".join(f"{name}=={version}" for name, version in READ_AGAINST.items())
        got = ", ".join(f"{name}=={version or 'not installed'}" for name, version in wrong.items())
        raise UnsupportedFaustVersion(
            f"zoomstream's worker patches faust-streaming internals read against {expected}; "
            f"installed: {got}. Read each item of streams/runtime/faust_internals.py's docstring against "
            "the installed source (and upstream issues #596, #606) before changing the pins."
        )


def _installed_versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in READ_AGAINST:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def install() -> None:
    """Check the versions and patch the methods above (idempotent)."""
    check_versions()
    Recovery.on_recovery_completed = _on_recovery_completed  # type: ignore[method-assign]
    Consumer._add_gap = _add_gap  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]


def guard(topic: str) -> None:
    """Declare that `topic` has contiguous offsets (no transactions, no compaction) and a gap
    repair: Faust must never commit past one of its offsets that was not processed."""
    _guarded.add(topic)


def worker(app: faust.App, loglevel: str) -> faust.Worker:
    """The Faust worker that runs `app`, without the terminal spinner (see the docstring)."""
    runner = faust.Worker(app, loglevel=loglevel, quiet=True)
    runner.spinner = None
    return runner


def register_store(url: str, store: type) -> None:
    """Make Faust build `store` for tables whose store URL has `url`'s scheme (see the
    docstring: Faust takes stores by URL only)."""
    faust.stores.STORES.aliases[url.split(":")[0]] = f"{store.__module__}:{store.__qualname__}"


def committed_offsets(consumer: Any) -> Mapping[TP, int | None]:
    """The offset committed last per assigned partition, as the consumer knows it."""
    committed: Mapping[TP, int | None] = consumer._committed_offset
    return committed


def declare_processed(consumer: Any, tp: TP, start: int, end: int) -> None:
    """Tell the consumer that offsets [start, end) of `tp` were handled outside its streams (read
    again by the gap repair), so that its commits may pass them."""
    committed = consumer._committed_offset.get(tp)
    if committed is not None:
        start = max(start, committed)
    if start < end:
        gaps = consumer._gap[tp]
        gaps.addi(start, end)
        gaps.merge_overlaps()
        # The commit loop visits the partitions listed in `_acked`, acked or not since.
        consumer._acked.setdefault(tp, [])


async def _on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """`Recovery.on_recovery_completed` of faust-streaming 0.15.3 with the seek moved before the
    stream partitions are resumed (see the module docstring)."""
    consumer = self.app.consumer
    self.log.info("Restore complete!")
    await self.app.on_rebalance_complete.send()
    self._set_recovery_ended()
    callback_coros = [
        asyncio.ensure_future(
            table.on_recovery_completed(
                self.actives_for_table[table], self.standbys_for_table[table]
            )
        )
        for table in self.tables.values()
    ]
    if callback_coros:
        await asyncio.wait(callback_coros)
    assignment = consumer.assignment()
    if self.app.consumer_generation_id != generation_id:
        self.log.warning(
            f"Recovery rebalancing again app id "
            f"{self.app.consumer_generation_id} param {generation_id}"
        )
        return
    streams = {tp for tp in assignment if not self._is_changelog_tp(tp)}

    async def seek_then_resume() -> None:
        if assignment:
            self.log.info("Seek stream partitions to committed offsets.")
            await consumer.perform_seek()
        # From the seek's completion to here nothing awaits: the drain loop cannot hand out a
        # record of these partitions before they are resumed at their committed offsets, and the
        # queues are emptied before anything fetched afterwards reaches them.
        consumer.resume_partitions(streams)
        self.completed.set()
        self.log.dev("Resume stream partitions")
        self.app.flow_control.resume()
        consumer.resume_flow()

    await self._wait(seek_then_resume(), timeout=self.app.conf.broker_request_timeout)
    await self.app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not self.app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    self.app.on_rebalance_end()
    self.log.info("Worker ready")


async def _add_gap(self: Any, tp: TP, offset_from: int, offset_to: int) -> None:
    """`Consumer._add_gap`, which declares nothing for a guarded topic (module docstring)."""
    if tp.topic not in _guarded:
        await _upstream_add_gap(self, tp, offset_from, offset_to)
        return
    log.warning(
        "faust's fetch of %s[%d] jumped over offsets %d..%d; not marking them done",
        tp.topic,
        tp.partition,
        offset_from,
        offset_to - 1,
    )


def _new_offset(self: Any, tp: TP) -> int | None:
    """`Consumer._new_offset`, which for a guarded topic holds the commit at any hole at the head,
    counts an offset both acked and declared once, and commits declared offsets even when no ack
    follows them (the gap repair's sweep declares the end of a partition)."""
    if tp.topic not in _guarded:
        offset: int | None = _upstream_new_offset(self, tp)
        return offset
    acked: list[int] = self._acked[tp]
    committed: int | None = self._committed_offset[tp]
    gaps = self._gap[tp]
    if gaps:
        upper = max(acked) if acked else committed
        if upper is not None:
            declared = sorted(gaps.overlap(0, upper + 1), key=lambda interval: interval.begin)
            if declared:
                covered = [n for interval in declared for n in range(interval.begin, interval.end)]
                acked[:] = sorted(set(acked).union(covered))
                gaps.chop(0, max(covered[-1], upper) + 1)
    if not acked:
        return None
    acked.sort()
    if committed is not None and acked[0] > committed:
        return None  # the next offset to commit was neither processed nor declared
    batch = next(consecutive_numbers(acked))
    acked[: len(batch)] = []
    self._acked_index[tp].difference_update(batch)
    return int(batch[-1]) + 1
