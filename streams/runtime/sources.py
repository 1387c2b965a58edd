"""A topic read by a Faust agent in batches, with a safety net for offsets Faust skips.

faust-streaming 0.15.3 skipped fetched records after a restart with a backlog (docs/design.md,
"Skipped offsets"); streams/runtime/faust_internals.py fixes the cause and makes Faust hold its commits
at any offset of these topics no agent processed. Every batch agent whose topic has contiguous
offsets goes through a `RepairedSource`: each batch is checked against the next expected offset
per partition, a gap is read again with a plain consumer and put in front, an idle sweep reads
what is left at the end of a partition, and repaired offsets are declared to Faust so its commits
pass them. Each repaired offset is counted (`zoomstream_worker_repaired_offsets`) and logged.
The net never takes the worker down: partitions revoked or re-assigned during a pass are dropped
from it, and a failure of the repair itself is logged and the pass given up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import faust
from faust.types import TP

from schemas.settings import Settings
from streams.runtime import faust_internals, metrics
from streams.runtime.delivery import Delivery
from streams.runtime.gaps import Gap
from streams.runtime.reread import GapRepair, Owns, PartitionReader, Reader

log = logging.getLogger(__name__)

Handle = Callable[[list[Delivery]], Awaitable[None]]


class RepairedSource:
    def __init__(
        self, app: faust.App, reader: Reader, topic: str, handle: Handle, lock: asyncio.Lock
    ) -> None:
        self._app = app
        self.topic = topic
        self._repair = GapRepair(reader, topic)
        self._generation: int | None = None
        self._handle = handle
        self._lock = lock
        self._batches_waiting = 0
        self.last_batch = time.monotonic()
        faust_internals.guard(topic)

    def _owner(self) -> Owns:
        """This pass's test of ownership: the consumer generation it began in, no rebalance
        under way, and the partition still assigned. Expectations of an earlier generation are
        forgotten (the consumer resumed from the committed offsets)."""
        app, topic = self._app, self.topic
        generation = app.consumer_generation_id
        if generation != self._generation:
            self._repair.reset()
            self._generation = generation

        def owns(partition: int) -> bool:
            return (
                not app.rebalancing
                and app.consumer_generation_id == generation
                and TP(topic, partition) in app.consumer.assignment()
            )

        return owns

    async def batch(self, events: Sequence[Any]) -> None:
        """One batch from `take_events`, with anything skipped before it."""
        deliveries = [
            Delivery(e.message.topic, e.message.partition, e.message.offset, e.value)
            for e in events
        ]
        self._batches_waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._batches_waiting -= 1
        try:
            owns = self._owner()
            try:
                filled, gaps = await self._repair.fill(deliveries, owns)
            except Exception:
                log.exception(
                    "gap repair of a %s batch failed; batch handled as delivered", self.topic
                )
                self._repair.reset()
                filled, gaps = deliveries, []
            await self._handle(filled)
            self.last_batch = time.monotonic()
            self._release(gaps, owns)
        finally:
            self._lock.release()

    def _idle(self, idle_seconds: float) -> bool:
        """No batch for `idle_seconds` and none waiting: what the agent was handed is done."""
        app = self._app
        return (
            not (app.rebalancing or app.in_recovery)
            and self._batches_waiting == 0
            and time.monotonic() - self.last_batch >= idle_seconds
        )

    async def sweep(self, idle_seconds: float) -> None:
        """When idle: read what the consumer left behind on this topic's partitions."""
        app = self._app
        if not self._idle(idle_seconds):
            return
        try:
            async with self._lock:
                if not self._idle(idle_seconds):  # a batch came while the sweep waited
                    return
                owns = self._owner()
                assigned = [
                    tp.partition for tp in app.consumer.assignment() if tp.topic == self.topic
                ]
                found, gaps = await self._repair.sweep(assigned, owns)
                if found:
                    await self._handle(found)
                    self.last_batch = time.monotonic()
                self._release(gaps, owns)
        except Exception:
            log.exception("gap repair sweep of %s failed; the next sweep tries again", self.topic)
            self._repair.reset()

    def _release(self, gaps: list[Gap], owns: Owns) -> None:
        """Count the repaired offsets and tell the consumer they are done, so that its commits,
        held at them, can pass; a partition no longer owned is left to its next owner."""
        for gap in gaps:
            if not owns(gap.partition):
                continue
            metrics.GAPS.labels(self.topic).inc(gap.end - gap.start)
            faust_internals.declare_processed(
                self._app.consumer, TP(self.topic, gap.partition), gap.start, gap.end
            )


def byte_topic(app: faust.App, settings: Settings, name: str) -> Any:
    """A topic of this deployment (prefixed) carrying bytes: pydantic models parse them."""
    return app.topic(settings.topic(name), key_serializer="raw", value_serializer="raw")


def batch_agent(
    app: faust.App,
    settings: Settings,
    topic: Any,
    name: str,
    handle: Handle,
    lock: asyncio.Lock | None = None,
) -> RepairedSource:
    """An agent reading `topic` in batches (WORKER_BATCH_SIZE, WORKER_BATCH_SECONDS) through a
    RepairedSource (returned: the worker runs its idle sweep), handing each batch
    to `handle`; each batch's size and handling time go to the metrics under `name`."""

    async def measured(deliveries: list[Delivery]) -> None:
        started = time.perf_counter()
        await handle(deliveries)
        metrics.BATCH_SIZE.labels(name).observe(len(deliveries))
        metrics.BATCH_SECONDS.labels(name).observe(time.perf_counter() - started)

    source = RepairedSource(
        app,
        PartitionReader(settings.kafka_bootstrap_servers, app.conf.id),
        topic.get_topic_name(),
        measured,
        lock or asyncio.Lock(),
    )

    async def agent(stream: Any) -> None:
        batches = stream.take_events(
            settings.worker_batch_size, within=settings.worker_batch_seconds
        )
        async for events in batches:
            await source.batch(events)

    app.agent(topic, name=name)(agent)
    return source
