"""The raw Zoom webhook agents: the batch agent of zoom.webhooks.raw (dedup window, one
transaction per batch, records published), later attempts from the retry topic, and the timer
that settles attendance while no webhook of an occurrence comes; on the group's leader, the
timers that mark recordings expired and ask Zoom's API about files still processing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import faust
import mode

from ingest.api_call_log import ApiCallLog, api_call_metrics
from ingest.zoom_api import zoom_client
from schemas import DeadLetter
from schemas.retry import RetryRequest
from schemas.settings import Settings
from schemas.topics import ZOOM_DEAD_LETTERS, ZOOM_RAW, ZOOM_RETRY
from sinks import Database, in_transaction
from streams.attendance import settle
from streams.recordings.handler import expire
from streams.recordings.zoom_check import apply_completed, claim_due, completed_files
from streams.runtime import metrics
from streams.runtime.clock import utc_now
from streams.runtime.dead_letters import dead_letter
from streams.runtime.delivery import Delivery
from streams.runtime.seen_store import STORE_URL as SEEN_STORE_URL
from streams.runtime.sources import RepairedSource, batch_agent, byte_topic
from streams.runtime.tables import SeenTable
from streams.webhooks.apply import (
    Changes,
    Item,
    ItemResult,
    apply_and_publish,
    build_handlers,
    publish_changes,
    record_publisher,
)
from streams.webhooks.batch import Ports, process_batch, process_retry

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0
PUBLISH_TIMEOUT_SECONDS = 1200.0
"""How long a batch waits for its records' acks (a broker restart, a leader election): what
Faust's producer allowed before (producer_request_timeout), so an outage is waited out."""


@dataclass
class Every:
    """Due once every `seconds` (monotonic), from its creation."""

    seconds: float
    last: float = field(default_factory=time.monotonic)

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


def install_webhook_agents(
    app: faust.App, settings: Settings, db: Database
) -> list[RepairedSource]:
    """Install the raw Zoom webhook agents; returns the batch sources whose idle sweep the
    worker runs."""
    raw_topic = byte_topic(app, settings, ZOOM_RAW)
    retry_topic = byte_topic(app, settings, ZOOM_RETRY)
    dead_letters = byte_topic(app, settings, ZOOM_DEAD_LETTERS)
    # The batch's records go out through librdkafka (produced in C, one wait for all the acks):
    # through Faust's Topic.send each record cost about 0.3 ms of the event loop here.
    publisher = record_publisher(settings, PUBLISH_TIMEOUT_SECONDS)
    handlers = build_handlers(settings.attendance_min_fraction, settings.attendance_settle_seconds)
    seen = SeenTable(
        app.Table("delivery-seen", partitions=settings.kafka_partitions, store=SEEN_STORE_URL)
    )
    processing = asyncio.Lock()  # the raw agent, the retries and the sweep never overlap
    prune = Every(PRUNE_EVERY_SECONDS)

    async def send(topic: Any, key: bytes | None, value: bytes) -> None:
        """Send and wait for the broker's ack: before the source offset can be committed."""
        await (await topic.send(key=key, value=value))

    async def apply(items: Sequence[Item]) -> list[ItemResult]:
        results = await apply_and_publish(db, items, utc_now(), handlers, publisher, settings)
        for result in results:
            status = result.outcome.status if result.outcome is not None else "failed_attempt"
            metrics.EVENTS.labels(result.item.event.event[:50], status).inc()
        return results

    api_calls = ApiCallLog.for_database(db, api_call_metrics(metrics.REGISTRY))
    zoom = zoom_client(settings, api_calls.record)

    @app.service
    class ClosePublisher(mode.Service):
        async def on_stop(self) -> None:
            await publisher.close()
            if zoom is not None:
                await zoom.aclose()
            await api_calls.close()

    async def send_dead_letter(letter: DeadLetter) -> None:
        await send(dead_letters, None, letter.model_dump_json().encode())
        log.error(
            "dead-lettered %s[%d]@%d after %d attempt(s): %s",
            letter.source_topic,
            letter.partition,
            letter.offset,
            letter.attempts,
            letter.error,
        )

    async def schedule_retry(request: RetryRequest) -> None:
        await send(retry_topic, None, request.model_dump_json().encode())
        log.warning(
            "attempt %d of %s[%d]@%d due at %s: %s",
            request.attempt,
            request.source_topic,
            request.partition,
            request.offset,
            request.not_before.isoformat(),
            request.last_error,
        )

    ports = Ports(apply, send_dead_letter, schedule_retry, settings.retry_backoff_seconds)

    async def handle(deliveries: list[Delivery]) -> None:
        outcome = await process_batch(
            deliveries,
            seen=seen,
            window_seconds=settings.dedup_window_seconds,
            now=utc_now(),
            ports=ports,
            mark_seen=seen.mark,
        )
        metrics.DUPLICATES.inc(outcome.duplicates)
        metrics.RETRIES.inc(outcome.retries)
        metrics.DEAD_LETTERS.inc(len(outcome.dead_letters))
        log.info(
            "batch: %d applied, %d duplicates, %d to retry, %d dead-lettered",
            outcome.applied,
            outcome.duplicates,
            outcome.retries,
            len(outcome.dead_letters),
        )
        if prune.due():
            seen.prune(time.time(), settings.dedup_window_seconds)

    source = batch_agent(app, settings, raw_topic, "webhook-log", handle, lock=processing)

    @app.agent(retry_topic, name="retry")
    async def retry_agent(stream: Any) -> None:
        """Later attempts, one at a time. Waiting holds only this topic, never the raw one."""
        async for event in stream.events():
            try:
                request = RetryRequest.model_validate_json(event.value)
            except ValueError as exc:
                delivery = Delivery(
                    event.message.topic, event.message.partition, event.message.offset, event.value
                )
                await send_dead_letter(
                    dead_letter(delivery, f"not a retry request: {exc}", "", utc_now())
                )
                continue
            delay = (request.not_before - utc_now()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            original = Delivery(
                request.source_topic, request.partition, request.offset, request.envelope
            )
            async with processing:
                await process_retry(request, original, utc_now(), ports)

    @app.timer(interval=settings.attendance_settle_seconds)  # type: ignore[untyped-decorator]
    async def settle_attendance() -> None:
        """Occurrences whose settling is due while no webhook of theirs comes (batches settle
        what is due too)."""
        async with processing:
            now = utc_now()
            found = await in_transaction(db, lambda conn: settle(conn, now, handlers.attendance))
            await publish_changes(publisher, Changes([], found), settings)

    @app.timer(interval=settings.recording_expiry_check_seconds, on_leader=True)  # type: ignore[untyped-decorator]
    async def expire_recordings() -> None:
        """Recordings whose Zoom deletion date came between their webhooks: marked expired and
        their states published, as a webhook's change would be."""
        async with processing:
            now = utc_now()
            states = await in_transaction(db, lambda conn: expire(conn, now))
            await publish_changes(publisher, Changes(states, []), settings)

    if zoom is not None:

        @app.timer(interval=settings.zoom_processing_check_seconds, on_leader=True)  # type: ignore[untyped-decorator]
        async def check_processing_files() -> None:
            """Files still processing long after their last webhook: Zoom's API asked about a
            few recordings (`zoom_check`), each change applied and published under the lock the
            webhooks' agents hold, so states go out in the order they were committed. No lock
            is held while Zoom is asked."""
            assert zoom is not None
            now = utc_now()
            for recording_id, meeting_uuid, zoom_recording_id in await claim_due(
                db, now, settings.zoom_processing_check_limit
            ):
                completed = await completed_files(zoom, meeting_uuid, zoom_recording_id)
                if not completed:
                    continue
                async with processing:
                    state = await in_transaction(
                        db,
                        partial(
                            apply_completed, recording_id=recording_id, completed=completed, now=now
                        ),
                    )
                    if state is not None:
                        await publish_changes(publisher, Changes([state], []), settings)

    return [source]
