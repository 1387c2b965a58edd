"""Applying a batch of webhooks inside one PostgreSQL transaction, one savepoint per webhook.

A webhook whose handler raises is rolled back to its savepoint alone; its log row records the
attempt, and the caller retries it later or dead-letters it. The others in the batch commit.
`apply_and_publish` is the one way the worker, retry-failed and replay apply a batch.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import AsyncConnection

from ingest.publisher import MURMUR2_RANDOM, KafkaPublisher, Message, Publisher
from schemas import RawWebhookEnvelope, ZoomEvent, event_time
from schemas.attendance import AttendanceChange, AttendanceRecord
from schemas.columns import clip
from schemas.recording import RecordingState
from schemas.rows import WebhookLogRow
from schemas.settings import Settings
from schemas.topics import ZOOM_ATTENDANCE, ZOOM_RECORDINGS
from sinks import Database, in_transaction, webhook_log
from streams.attendance import Rule, apply_attendance, settle
from streams.recordings.handler import HANDLERS as RECORDING_HANDLERS
from streams.recordings.handler import refresh
from streams.runtime.attempts import is_final
from streams.runtime.delivery import Delivery
from streams.webhooks.envelope import payload_json
from streams.webhooks.outcome import Outcome, PermanentError
from streams.webhooks.routing import route

log = logging.getLogger(__name__)

Handler = Callable[[AsyncConnection, ZoomEvent, datetime, datetime], Awaitable[Outcome]]


@dataclass(frozen=True)
class Handlers:
    """How each handled event type is applied."""

    by_type: Mapping[str, Handler]
    """Event types applied one by one, each in a savepoint of its own (recordings)."""
    attendance: Rule
    """Meeting and participant events go to `streams.attendance`, all of a batch together."""
    together: bool = True
    """False: attendance events one by one too (what the together path falls back to)."""


def build_handlers(attendance_min_fraction: float, attendance_settle_seconds: float) -> Handlers:
    return Handlers(RECORDING_HANDLERS, Rule(attendance_min_fraction, attendance_settle_seconds))


@dataclass(frozen=True)
class Changes:
    """What a committed batch publishes."""

    recordings: list[RecordingState]
    attendance: list[AttendanceChange]

    def messages(self, topic: Callable[[str], str]) -> list[Message]:
        """(topic, key, value) of each record, recordings first, a gone attendance key as a
        tombstone (no value); `topic` prefixes a name."""
        recordings, attendance = topic(ZOOM_RECORDINGS), topic(ZOOM_ATTENDANCE)
        return [
            (recordings, state.zoom_recording_id.encode(), state.model_dump_json().encode())
            for state in self.recordings
        ] + [
            (
                attendance,
                record.key.encode(),
                record.model_dump_json().encode() if isinstance(record, AttendanceRecord) else None,
            )
            for record in self.attendance
        ]


@dataclass(frozen=True)
class Item:
    delivery: Delivery
    envelope: RawWebhookEnvelope
    event: ZoomEvent
    attempt: int = 1
    last_attempt: bool = False
    """No retry will follow a failure (a replay): it is final at any attempt."""


@dataclass(frozen=True)
class Failure:
    error: str
    traceback: str
    permanent: bool = False
    """No later attempt can succeed: the data itself is wrong."""

    def is_final(self, attempt: int) -> bool:
        return is_final(attempt, self.permanent)


@dataclass(frozen=True)
class ItemResult:
    item: Item
    outcome: Outcome | None = None
    failure: Failure | None = None
    logged: bool = True
    """False when not even the log row of the failure could be written."""


def log_row(
    item: Item, now: datetime, outcome: Outcome | None = None, failure: Failure | None = None
) -> WebhookLogRow:
    """The log row of one attempt at a webhook: pure."""
    event, envelope = item.event, item.envelope
    status: str
    if outcome is not None:
        status, message, trace = outcome.status, outcome.message, ""
    else:
        assert failure is not None
        final = failure.is_final(item.attempt) or item.last_attempt
        status = "failed" if final else "pending"
        message = (
            failure.error if final else f"attempt {item.attempt} failed, retrying: {failure.error}"
        )
        trace = failure.traceback
    return clip(
        WebhookLogRow(
            webhook_id=envelope.webhook_id,
            event_type=event.event,
            event_timestamp=event_time(event, envelope.received_at),
            zoom_meeting_id=event.meeting_id or "",
            zoom_meeting_uuid=event.meeting_uuid or "",
            payload=payload_json(envelope.body),
            headers=json.dumps(envelope.headers),
            processing_status=status,
            processed_at=now if status in ("completed", "skipped", "failed") else None,
            processing_attempts=item.attempt,
            last_attempt_at=now,
            error_message=message,
            error_traceback=trace,
            attendance_records_created=outcome.records_changed if outcome else 0,
            received_at=envelope.received_at,
            parked=outcome is not None and outcome.parked,
        )
    )


def unhandled(event: ZoomEvent) -> Outcome:
    return Outcome("skipped", f"no handler for event type {event.event!r} yet")


async def apply_items(
    conn: AsyncConnection,
    items: Sequence[Item],
    now: datetime,
    handlers: Handlers,
) -> tuple[list[ItemResult], Changes]:
    """Handle the items within the caller's transaction.

    The batch's attendance events go together, in one savepoint, with their log rows in one
    statement; if that fails they go one by one like the rest. One by one, each item has its own
    savepoint: an error rolls back that item only. Connection failures propagate (the caller
    retries the whole batch). Then the occurrences whose settling is due are settled. Returns
    each item's result, in the items' order, and what to publish.
    """
    attendance: dict[str, AttendanceChange] = {}
    together = [item for item in items if route(item.event.event) == "attendance"]
    done = None
    if together and handlers.together:
        done = await _apply_together(conn, together, now, handlers, attendance)
    by_item = {id(result.item): result for result in done or []}
    for item in items:
        if id(item) not in by_item:
            by_item[id(item)] = await _apply_alone(conn, item, now, handlers, attendance)
    results = [by_item[id(item)] for item in items]
    for record in await _settle(conn, now, handlers):
        attendance[record.key] = record
    publish: set[int] = set()
    for result in results:
        if result.outcome is not None:
            publish |= result.outcome.publish
    states = []
    for recording_id in sorted(publish):
        try:
            async with conn.transaction():
                states.append(await refresh(conn, recording_id, now))
        except psycopg.OperationalError:
            raise
        except Exception:
            # The recording's rows are written; its status and message wait for its next event.
            log.exception("could not refresh recording %d", recording_id)
    return results, Changes(states, list(attendance.values()))


def record_publisher(settings: Settings, timeout_seconds: float) -> KafkaPublisher:
    """The producer of the record topics (zoom.recordings, zoom.attendance): librdkafka, with
    murmur2 as aiokafka, so that each key stays on the partition Faust gave it before."""
    return KafkaPublisher(
        settings.kafka_bootstrap_servers, timeout_seconds, partitioner=MURMUR2_RANDOM
    )


async def publish_changes(publisher: Publisher, changes: Changes, settings: Settings) -> None:
    """Every record of `changes`, acked, in order per key (after the commit that made them)."""
    await publisher.start()  # idempotent: the first call connects
    await publisher.publish_many(changes.messages(settings.topic))


async def apply_and_publish(
    db: Database,
    items: Sequence[Item],
    now: datetime,
    handlers: Handlers,
    publisher: Publisher | None,
    settings: Settings,
) -> list[ItemResult]:
    """The items applied in one transaction (`apply_items`), then, after its commit, what
    changed published and acked, before the caller may ack the items: the worker and
    retry-failed. Replay passes no publisher: what it rebuilds is not published (its versions
    would not be those of the live stream)."""
    if not items:
        return []
    results, changes = await in_transaction(
        db, lambda conn: apply_items(conn, items, now, handlers)
    )
    if publisher is not None:
        await publish_changes(publisher, changes, settings)
    return results


async def _apply_alone(
    conn: AsyncConnection,
    item: Item,
    now: datetime,
    handlers: Handlers,
    attendance: dict[str, AttendanceChange],
) -> ItemResult:
    """One item in a savepoint of its own, with its log row; its attendance records are added
    to `attendance` once the savepoint is released."""
    occurred_at = event_time(item.event, item.envelope.received_at)
    records: list[AttendanceChange] = []
    try:
        async with conn.transaction():
            if route(item.event.event) == "attendance":
                applied = await apply_attendance(conn, [item.event], now, handlers.attendance)
                [outcome] = applied.outcomes
                if isinstance(outcome, Exception):
                    raise outcome
                records = applied.records
            elif (handler := handlers.by_type.get(item.event.event)) is not None:
                outcome = await handler(conn, item.event, occurred_at, now)
            else:
                outcome = unhandled(item.event)
            await webhook_log.upsert(conn, [log_row(item, now, outcome=outcome)])
    except psycopg.OperationalError:
        raise
    except Exception as exc:
        return await _log_failure(conn, item, _failure(exc), now)
    attendance.update((record.key, record) for record in records)
    return ItemResult(item, outcome=outcome)


async def _settle(
    conn: AsyncConnection, now: datetime, handlers: Handlers
) -> list[AttendanceChange]:
    """The occurrences whose settling is due, in a savepoint: if that fails, they stay due and
    the next batch tries again; nothing accepted is lost, the summaries wait."""
    try:
        async with conn.transaction():
            return await settle(conn, now, handlers.attendance)
    except psycopg.OperationalError:
        raise
    except Exception:
        log.exception("could not settle attendance")
        return []


def _failure(exc: BaseException) -> Failure:
    return Failure(
        f"{type(exc).__name__}: {exc}",
        "".join(traceback.format_exception(exc)),
        isinstance(exc, PermanentError),
    )


async def _apply_together(
    conn: AsyncConnection,
    items: Sequence[Item],
    now: datetime,
    handlers: Handlers,
    attendance: dict[str, AttendanceChange],
) -> list[ItemResult] | None:
    """The attendance items and their log rows in one statement each, in one savepoint; None
    when that failed (rolled back: the caller takes them one by one)."""
    try:
        async with conn.transaction():
            applied = await apply_attendance(
                conn, [item.event for item in items], now, handlers.attendance
            )
            results = [
                ItemResult(item, failure=_failure(outcome))
                if isinstance(outcome, Exception)
                else ItemResult(item, outcome=outcome)
                for item, outcome in zip(items, applied.outcomes, strict=True)
            ]
            await webhook_log.upsert(
                conn,
                [log_row(r.item, now, outcome=r.outcome, failure=r.failure) for r in results],
            )
    except psycopg.OperationalError:
        raise
    except Exception:
        log.warning(
            "%d webhooks could not be applied together; one by one", len(items), exc_info=True
        )
        return None
    attendance.update((record.key, record) for record in applied.records)
    return results


async def _log_failure(
    conn: AsyncConnection, item: Item, failure: Failure, now: datetime
) -> ItemResult:
    try:
        async with conn.transaction():
            await webhook_log.upsert(conn, [log_row(item, now, failure=failure)])
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        return ItemResult(item, failure=failure, logged=False)
    return ItemResult(item, failure=failure)
