"""A topic read by a Faust agent in batches, with the offsets Faust skipped read again.

faust-streaming 0.15.3 can skip fetched records after a restart with a backlog (docs/design.md,
"faust skips records"). Every batch agent whose topic has contiguous offsets goes through a
`RepairedSource`: each batch is checked against the next expected offset per partition, a
gap is read again with a plain consumer and put in front, an idle sweep reads what is left at
the end of a partition, and repaired offsets are declared to Faust so its commits pass them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import faust
from faust.types import TP

from streams import metrics
from streams.gaps import Gap
from streams.reread import GapRepair, PartitionReader
from streams.webhook_log import Delivery
from zoomstream.settings import Settings

Handle = Callable[[list[Delivery]], Awaitable[None]]


class RepairedSource:
    def __init__(
        self, app: faust.App, bootstrap_servers: str, topic: str, handle: Handle, lock: asyncio.Lock
    ) -> None:
        self._app = app
        self.topic = topic
        self._repair = GapRepair(PartitionReader(bootstrap_servers, app.conf.id), topic)
        self._handle = handle
        self._lock = lock
        self.last_batch = time.monotonic()

    def forget(self, revoked: Iterable[Any]) -> None:
        self._repair.forget(tp.partition for tp in revoked if tp.topic == self.topic)

    async def batch(self, events: Sequence[Any]) -> None:
        """One batch from `take_events`, with anything skipped before it."""
        deliveries = [
            Delivery(e.message.topic, e.message.partition, e.message.offset, e.value)
            for e in events
        ]
        async with self._lock:
            filled, gaps = await self._repair.fill(deliveries)
            await self._handle(filled)
            self.last_batch = time.monotonic()
            await self._release(gaps)

    async def sweep(self, idle_seconds: float) -> None:
        """When idle: read what the consumer left behind on this topic's partitions."""
        if self._app.in_recovery or time.monotonic() - self.last_batch < idle_seconds:
            return
        assigned = [
            tp.partition for tp in self._app.consumer.assignment() if tp.topic == self.topic
        ]
        async with self._lock:
            found, gaps = await self._repair.sweep(assigned)
            if found:
                await self._handle(found)
                self.last_batch = time.monotonic()
            await self._release(gaps)

    async def _release(self, gaps: list[Gap]) -> None:
        """Tell the consumer that repaired offsets are done, so its commits can pass them.

        Faust never acks what it skipped and stops committing at such a hole; its own gap
        bookkeeping (`_add_gap`, used for transaction markers) is how offsets that need no ack
        are declared. Without this the offsets would only be re-read, harmlessly, on restart.
        """
        for gap in gaps:
            metrics.GAPS.labels(self.topic).inc(gap.end - gap.start)
            await self._app.consumer._add_gap(  # type: ignore[attr-defined]
                TP(self.topic, gap.partition), gap.start, gap.end - 1
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
    sources: list[RepairedSource],
    lock: asyncio.Lock | None = None,
) -> RepairedSource:
    """An agent reading `topic` in batches (WORKER_BATCH_SIZE, WORKER_BATCH_SECONDS) through a
    RepairedSource (added to `sources`, whose idle sweep the worker runs), handing each batch
    to `handle`; each batch's size and handling time go to the metrics under `name`."""

    async def measured(deliveries: list[Delivery]) -> None:
        started = time.perf_counter()
        await handle(deliveries)
        metrics.BATCH_SIZE.labels(name).observe(len(deliveries))
        metrics.BATCH_SECONDS.labels(name).observe(time.perf_counter() - started)

    source = RepairedSource(
        app,
        settings.kafka_bootstrap_servers,
        topic.get_topic_name(),
        measured,
        lock or asyncio.Lock(),
    )
    sources.append(source)

    async def agent(stream: Any) -> None:
        batches = stream.take_events(
            settings.worker_batch_size, within=settings.worker_batch_seconds
        )
        async for events in batches:
            await source.batch(events)

    app.agent(topic, name=name)(agent)
    return source
