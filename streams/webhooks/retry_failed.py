"""`zoomstream retry-failed`: drive failed and stuck webhooks, and dead letters, through again.

- Log rows `failed`, and rows `pending` or `processing` untouched for longer than a bound (a
  retry that never came, a crash in an old version), are applied again from their stored
  payload by the worker's own code, each routed by its event type (spec defect 8). A webhook
  parked until its recording arrives is not one of them: it is waiting, not stuck (they are
  counted, with the oldest one's time). One that has had its three attempts is left alone and
  counted, unless `force` drives it anyway (counted apart).
- Dead letters: each one is driven once per consumer group (`{prefix}zoomstream-retry-failed`
  commits after it). A Zoom webhook is applied from its envelope; an email send request or
  provider delivery goes back to its source topic, where the worker takes it again (both are
  idempotent by their ids). What cannot be read is counted and left in the topic.

A webhook that fails again is `failed` again, with one more attempt counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from schemas import DeadLetter, InvalidZoomEvent, RawWebhookEnvelope, parse_zoom_event
from schemas.retry import RetryRequest
from schemas.settings import Settings
from schemas.topics import EMAIL_DEAD_LETTERS, ZOOM_DEAD_LETTERS, ZOOM_RAW
from sinks import Database, webhook_log
from streams.runtime.attempts import MAX_ATTEMPTS
from streams.runtime.delivery import Delivery
from streams.runtime.ranges import Offsets, RangeReader
from streams.webhooks.apply import Item, apply_and_publish, build_handlers, record_publisher

BATCH = 200


@dataclass
class RetrySummary:
    from_logs: int = 0
    from_dead_letters: int = 0
    resent: int = 0
    completed: int = 0
    failed_again: int = 0
    unreadable: int = 0
    held: set[str] = field(default_factory=set)
    """Webhooks at the attempt limit, left alone (`--force` drives them)."""
    forced: int = 0
    parked: int = 0
    parked_since: datetime | None = None

    def lines(self) -> list[str]:
        since = self.parked_since
        oldest = f", the oldest since {since.astimezone(UTC).isoformat()}" if since else ""
        return [
            f"webhooks driven again: {self.from_logs} from failed or stuck log rows,"
            f" {self.from_dead_letters} from dead letters",
            f"  now done: {self.completed}; failed again: {self.failed_again}",
            f"  past the {MAX_ATTEMPTS}-attempt limit (--force): {self.forced}",
            f"webhooks at the {MAX_ATTEMPTS}-attempt limit, left alone (--force drives them):"
            f" {len(self.held)}",
            f"webhooks parked until their recording arrives (not driven): {self.parked}{oldest}",
            f"email messages sent back to their topics: {self.resent}",
            f"dead letters that cannot be read (left alone): {self.unreadable}",
        ]


def envelope_from_log(row: dict[str, Any]) -> RawWebhookEnvelope:
    return RawWebhookEnvelope(
        webhook_id=row["webhook_id"],
        received_at=row["received_at"],
        headers={str(k): str(v) for k, v in (row["headers"] or {}).items()},
        body=row["payload"].encode(),
    )


def envelope_from_dead_letter(letter: DeadLetter) -> tuple[RawWebhookEnvelope, int]:
    """The webhook of a Zoom dead letter and the attempts it had; ValueError if none."""
    try:
        return RawWebhookEnvelope.model_validate_json(letter.value), letter.attempts
    except ValidationError:
        request = RetryRequest.model_validate_json(letter.value)
        return RawWebhookEnvelope.model_validate_json(request.envelope), request.attempt


class RetryRun:
    def __init__(self, settings: Settings, force: bool = False) -> None:
        self.settings = settings
        self.force = force
        """Drive webhooks at the attempt limit too."""
        self.db = Database(settings.database_url)
        self.publisher = record_publisher(settings, 10.0)
        self.handlers = build_handlers(
            settings.attendance_min_fraction, settings.attendance_settle_seconds
        )
        self.summary = RetrySummary()
        self.done: set[str] = set()

    async def apply(self, items: Sequence[Item]) -> None:
        now = datetime.now(tz=UTC)
        results = await apply_and_publish(
            self.db, items, now, self.handlers, self.publisher, self.settings
        )
        for result in results:
            self.done.add(result.item.envelope.webhook_id)
            if result.failure is None:
                self.summary.completed += 1
            else:
                self.summary.failed_again += 1

    def item(self, envelope: RawWebhookEnvelope, attempts: int, source: str) -> Item | None:
        if envelope.webhook_id in self.done:
            return None
        if attempts >= MAX_ATTEMPTS:
            if not self.force:
                self.summary.held.add(envelope.webhook_id)
                return None
            self.summary.forced += 1
        try:
            event = parse_zoom_event(envelope.body)
        except InvalidZoomEvent:
            self.summary.unreadable += 1
            return None
        delivery = Delivery(source, -1, -1, envelope.model_dump_json().encode())
        return Item(delivery, envelope, event, attempt=attempts + 1, last_attempt=True)

    async def from_logs(self, stuck_after: timedelta) -> None:
        async with self.db.transaction() as conn:
            rows = await webhook_log.failed_or_stuck(conn, datetime.now(tz=UTC) - stuck_after)
            self.summary.parked, self.summary.parked_since = await webhook_log.parked_count(conn)
        items = []
        for row in rows:
            found = self.item(
                envelope_from_log(row), row["processing_attempts"], "zoom_webhook_logs"
            )
            if found is not None:
                items.append(found)
                self.summary.from_logs += 1
        for start in range(0, len(items), BATCH):
            await self.apply(items[start : start + BATCH])

    async def from_dead_letters(self) -> None:
        settings = self.settings
        group = f"{settings.topic_prefix}zoomstream-retry-failed"
        topics = [settings.topic(ZOOM_DEAD_LETTERS), settings.topic(EMAIL_DEAD_LETTERS)]
        offsets = Offsets(settings.kafka_bootstrap_servers, group)
        try:
            ranges = await asyncio.to_thread(offsets.unread, topics)
        finally:
            offsets.close()
        reader = RangeReader(settings.kafka_bootstrap_servers, ranges, group)
        try:
            idle = 0
            while not reader.done and idle < 10:  # ten empty seconds: the rest is gone (retention)
                deliveries = await asyncio.to_thread(reader.read, BATCH)
                idle = 0 if deliveries else idle + 1
                items = []
                for delivery in deliveries:
                    found = await self.dead_letter(delivery.value)
                    if found is not None:
                        items.append(found)
                await self.apply(items)
                if deliveries:
                    await asyncio.to_thread(reader.commit)
        finally:
            reader.close()

    async def dead_letter(self, value: bytes) -> Item | None:
        try:
            letter = DeadLetter.model_validate_json(value)
        except ValidationError:
            self.summary.unreadable += 1
            return None
        prefix = self.settings.topic_prefix
        if letter.source_topic.removeprefix(prefix).startswith("email."):
            await self.publisher.publish(letter.source_topic, None, letter.value)
            self.summary.resent += 1
            return None
        try:
            envelope, attempts = envelope_from_dead_letter(letter)
        except ValidationError:
            self.summary.unreadable += 1
            return None
        found = self.item(envelope, attempts, self.settings.topic(ZOOM_RAW))
        if found is not None:
            self.summary.from_dead_letters += 1
        return found


async def retry_failed(
    settings: Settings, stuck_after: timedelta, dead_letters: bool = True, force: bool = False
) -> RetrySummary:
    run = RetryRun(settings, force)
    await run.publisher.start()
    try:
        await run.from_logs(stuck_after)
        if dead_letters:
            await run.from_dead_letters()
    finally:
        await run.publisher.close()
        await run.db.close()
    return run.summary
