"""`zoomstream replay`: a period of the raw topics through the same transforms, into the same
tables, without the worker's dedup window and without duplicating anything.

Reads `zoom.webhooks.raw` and `email.events.raw` from the offsets of T1 to those of T2 (Kafka's
timestamps, which ingest sets when it accepts a request) with `streams.runtime.ranges`, whose
consumer commits nothing. Each distinct delivery is applied once per replay by the worker's own code
(`apply_and_publish` with no publisher, `apply_events`); every effect is an upsert by natural key, so replaying over
existing rows changes nothing and replaying into wiped tables rebuilds them. Derived topics are
not published (their versions would not be those of the live stream).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from pydantic import ValidationError

from schemas import InvalidZoomEvent, RawWebhookEnvelope, parse_zoom_event
from schemas.email_envelope import EmailWebhookEnvelope
from schemas.email_event import EmailEvent, InvalidEmailWebhook
from schemas.settings import Settings
from schemas.topics import EMAIL_RAW, ZOOM_RAW
from sinks import Database, in_transaction
from streams.attendance import settle
from streams.email.tracking import apply_events, normalise
from streams.runtime.delivery import Delivery
from streams.runtime.ranges import Offsets, RangeReader
from streams.webhooks.apply import Item, apply_and_publish, build_handlers

BATCH = 2000
"""Webhooks per transaction: the size of the worker's default batch (WORKER_BATCH_SIZE)."""


@dataclass
class ReplaySummary:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    filtered: int = 0
    unreadable: int = 0
    failed: int = 0
    email_events: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rate = self.read / self.seconds if self.seconds else 0.0
        lines = [
            f"read {self.read} messages in {self.seconds:.1f} s ({rate:,.0f}/s)",
            f"applied {self.applied} webhooks, {self.duplicates} duplicate deliveries skipped,"
            f" {self.filtered} of other event types, {self.unreadable} unreadable,"
            f" {self.failed} failed (their log rows say why)",
            f"email-provider events stored or already stored: {self.email_events}",
        ]
        lines += [f"  {kind:40} {count}" for kind, count in sorted(self.by_type.items())]
        return lines


@dataclass
class Parsed:
    """A batch read and parsed, ready to apply."""

    read: int
    items: list[Item]
    email: list[EmailEvent]


def parse_batch(
    deliveries: Sequence[Delivery],
    summary: ReplaySummary,
    seen: set[str],
    wanted: set[str],
    email_topic: str,
) -> Parsed:
    """The deliveries to apply: each distinct Zoom delivery once per replay (of the wanted
    types), and the email-provider events; the rest counted in `summary`."""
    items: list[Item] = []
    email_found: list[EmailEvent] = []
    for delivery in deliveries:
        if delivery.topic == email_topic:
            try:
                email = EmailWebhookEnvelope.model_validate_json(delivery.value)
                email_found.extend(normalise(email))
            except (ValidationError, InvalidEmailWebhook):
                summary.unreadable += 1
            continue
        try:
            envelope = RawWebhookEnvelope.model_validate_json(delivery.value)
            event = parse_zoom_event(envelope.body)
        except (ValidationError, InvalidZoomEvent):
            summary.unreadable += 1
            continue
        if envelope.webhook_id in seen:
            summary.duplicates += 1
            continue
        seen.add(envelope.webhook_id)
        if wanted and event.event not in wanted:
            summary.filtered += 1
            continue
        # No retry follows here: a failure is final (its log row says `failed`, and
        # `zoomstream retry-failed` drives it again).
        items.append(Item(delivery, envelope, event, last_attempt=True))
    return Parsed(len(deliveries), items, email_found)


async def replay(
    settings: Settings,
    start: datetime,
    end: datetime,
    event_types: Sequence[str] = (),
    include_email: bool = True,
    advance: Callable[[int], None] = lambda _n: None,
    announce_total: Callable[[int], None] = lambda _n: None,
) -> ReplaySummary:
    summary = ReplaySummary()
    started = time.perf_counter()
    topics = [settings.topic(ZOOM_RAW)] + ([settings.topic(EMAIL_RAW)] if include_email else [])
    offsets = Offsets(settings.kafka_bootstrap_servers)
    try:
        ranges = [r for topic in topics for r in offsets.between(topic, start, end)]
    finally:
        offsets.close()
    reader = RangeReader(settings.kafka_bootstrap_servers, ranges)
    announce_total(reader.total)
    db = Database(settings.database_url)
    parse = partial(
        parse_batch,
        summary=summary,
        seen=set(),
        wanted=set(event_types),
        email_topic=settings.topic(EMAIL_RAW),
    )
    # The next batch is read and parsed while the database applies this one.
    batches: asyncio.Queue[Parsed | None] = asyncio.Queue(maxsize=2)

    async def read_all() -> None:
        while not reader.done:
            deliveries = await asyncio.to_thread(reader.read, BATCH)
            summary.read += len(deliveries)
            await batches.put(parse(deliveries))
        await batches.put(None)

    async def apply_all() -> None:
        handlers = build_handlers(
            settings.attendance_min_fraction, settings.attendance_settle_seconds
        )
        while (batch := await batches.get()) is not None:
            if batch.items:
                now = datetime.now(tz=UTC)
                # Not published: see apply_and_publish.
                results = await apply_and_publish(db, batch.items, now, handlers, None, settings)
                for result in results:
                    if result.failure is None:
                        summary.applied += 1
                        summary.by_type[result.item.event.event] += 1
                    else:
                        summary.failed += 1
            if batch.email:
                applied = await in_transaction(db, partial(apply_events, events=batch.email))
                summary.email_events += applied.stored + applied.duplicates
            advance(batch.read)
        # Every occurrence's people at the bounds all of its facts give, as a worker's are
        # once its settling has come round.
        now = datetime.now(tz=UTC)
        await in_transaction(
            db, partial(settle, now=now, rule=handlers.attendance, everything=True)
        )

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(read_all())
            group.create_task(apply_all())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None  # what went wrong, as the caller knows it
    finally:
        reader.close()
        await db.close()
    summary.seconds = time.perf_counter() - started
    return summary
