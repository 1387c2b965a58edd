"""The Faust app: topics, the dedup table and the agents, wired to the pure steps and the sinks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust

from schemas import DeadLetter
from sinks import Database, WebhookLogRow, webhook_log, write_batch
from streams.batch import process_batch, utc_now
from streams.dedup import expired
from streams.gaps import find_gaps
from streams.reread import PartitionReader
from streams.webhook_log import Delivery
from zoomstream.settings import Settings
from zoomstream.topics import ZOOM_DEAD_LETTERS, ZOOM_RAW

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0


class SeenTable:
    """The dedup window in a Faust table, written to the changelog partition of its source.

    Faust only lets a table be set from inside a stream iteration, where the current event names
    the partition; a batch from `take_events` has no current event. Entries are written after
    their rows are committed, so the partition is passed explicitly, through the table's own
    `send_changelog`, keeping the table co-partitioned with `zoom.webhooks.raw`. Each value is
    `[first receive time, partition]`, so that pruning can write the tombstone where the entry is.
    """

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, key: str, default: float | None = None, /) -> float | None:
        value = self._table.data.get(key)
        return default if value is None else float(value[0])

    def mark(self, key: str, received_at: float, partition: int) -> None:
        value = [received_at, partition]
        self._table.send_changelog(partition, key, value)
        self._table.data[key] = value

    def prune(self, now: float, window_seconds: float) -> int:
        """Forget entries older than the window, in memory and in the changelog."""
        data = self._table.data
        stale = expired({key: value[0] for key, value in data.items()}, now, window_seconds)
        for key in stale:
            self._table.send_changelog(data[key][1], key, None, value_serializer="raw")
            del data[key]
        return len(stale)


def create_worker(settings: Settings) -> faust.App:
    """Build the worker app. Nothing connects until the worker starts."""
    app = faust.App(
        f"{settings.topic_prefix}zoomstream",
        broker=[f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")],
        store="memory://",
        datadir=settings.worker_datadir,
        processing_guarantee="at_least_once",
        topic_partitions=settings.kafka_partitions,
        topic_replication_factor=settings.kafka_replication_factor,
        # Tables use JSON; topics carry bytes that pydantic models parse.
        key_serializer="json",
        value_serializer="json",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    db = Database(settings.database_url)
    raw_topic = app.topic(settings.topic(ZOOM_RAW), key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(
        settings.topic(ZOOM_DEAD_LETTERS), key_serializer="raw", value_serializer="raw"
    )
    seen = SeenTable(
        app.Table(
            "delivery-seen",
            partitions=settings.kafka_partitions,
        )
    )
    last_prune = time.monotonic()
    reader = PartitionReader(settings.kafka_bootstrap_servers, app.conf.id)
    expected: dict[int, int] = {}

    @app.on_partitions_revoked.connect
    def forget_expected_offsets(_sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """After a rebalance Faust resumes from committed offsets: look them up again."""
        revoked = args[0] if args else kwargs.get("revoked", ())
        for tp in revoked:
            expected.pop(tp.partition, None)

    async def with_gaps_filled(deliveries: list[Delivery]) -> list[Delivery]:
        """The batch with any messages the consumer skipped read again and put in front."""
        raw_name = settings.topic(ZOOM_RAW)
        for partition in {d.partition for d in deliveries} - expected.keys():
            expected[partition] = await asyncio.to_thread(reader.start_offset, raw_name, partition)
        gaps = find_gaps(expected, [(d.partition, d.offset) for d in deliveries])
        repaired: list[Delivery] = []
        for gap in gaps:
            log.warning(
                "consumer skipped %s[%d] offsets %d..%d; reading them again",
                raw_name,
                gap.partition,
                gap.start,
                gap.end - 1,
            )
            repaired += await asyncio.to_thread(
                reader.read, raw_name, gap.partition, gap.start, gap.end
            )
        return repaired + deliveries

    async def write_rows(rows: Sequence[WebhookLogRow]) -> Sequence[WebhookLogRow]:
        return await write_batch(db, webhook_log.write, rows)

    async def send_dead_letter(letter: DeadLetter) -> None:
        ack = await dead_letters.send(value=letter.model_dump_json().encode())
        await ack  # acknowledged before the source offset can be committed
        log.error(
            "dead-lettered %s[%d]@%d: %s",
            letter.source_topic,
            letter.partition,
            letter.offset,
            letter.error,
        )

    @app.agent(raw_topic, name="webhook-log")
    async def webhook_log_agent(stream: Any) -> None:
        nonlocal last_prune
        batches = stream.take_events(
            settings.worker_batch_size, within=settings.worker_batch_seconds
        )
        async for events in batches:
            deliveries = [
                Delivery(e.message.topic, e.message.partition, e.message.offset, e.value)
                for e in events
            ]
            outcome = await process_batch(
                await with_gaps_filled(deliveries),
                seen=seen,
                window_seconds=settings.dedup_window_seconds,
                now=utc_now(),
                write_rows=write_rows,
                send_dead_letter=send_dead_letter,
                mark_seen=seen.mark,
            )
            log.info(
                "batch: %d written, %d duplicates, %d dead-lettered",
                outcome.written,
                outcome.duplicates,
                len(outcome.dead_letters),
            )
            if time.monotonic() - last_prune > PRUNE_EVERY_SECONDS:
                last_prune = time.monotonic()
                seen.prune(time.time(), settings.dedup_window_seconds)

    return app
