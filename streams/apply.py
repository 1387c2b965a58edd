"""Applying a batch of webhooks inside one PostgreSQL transaction, one savepoint per webhook.

A webhook whose handler raises is rolled back to its savepoint alone; its log row records the
attempt, and the caller retries it later or dead-letters it. The others in the batch commit.
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

from schemas import RawWebhookEnvelope, ZoomEvent, event_time
from schemas.attendance import AttendanceRecord
from schemas.recording import RecordingState
from sinks import WebhookLogRow, webhook_log
from streams.attendance_handler import HANDLERS as ATTENDANCE_HANDLERS
from streams.attendance_handler import apply_many, recompute_occurrences
from streams.outcome import Outcome, PermanentError
from streams.recording_handler import HANDLERS as RECORDING_HANDLERS
from streams.recording_handler import refresh
from streams.webhook_log import Delivery, payload_json

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3

Handler = Callable[[AsyncConnection, ZoomEvent, datetime, datetime], Awaitable[Outcome]]


Recompute = Callable[[AsyncConnection, Sequence[str]], Awaitable[tuple[AttendanceRecord, ...]]]

ApplyMany = Callable[
    [AsyncConnection, Sequence[ZoomEvent]], Awaitable[Sequence[Outcome | Exception]]
]
"""Handles many events of the types it is registered for in a few statements: each event's
outcome, or the error that leaves that event unapplied."""


@dataclass(frozen=True)
class Handlers:
    """Every handled event type's handler, and what runs once per batch after them."""

    by_type: Mapping[str, Handler]
    recompute: Recompute
    """Occurrences' attendance from all their facts, once per batch that touched them."""
    many: ApplyMany | None = None
    many_types: frozenset[str] = frozenset()
    """The event types `many` handles; a batch's other events go one by one."""


def build_handlers(attendance_min_fraction: float) -> Handlers:
    async def recompute(
        conn: AsyncConnection, meeting_uuids: Sequence[str]
    ) -> tuple[AttendanceRecord, ...]:
        return await recompute_occurrences(conn, meeting_uuids, attendance_min_fraction)

    return Handlers(
        {**RECORDING_HANDLERS, **ATTENDANCE_HANDLERS},
        recompute,
        many=apply_many,
        many_types=frozenset(ATTENDANCE_HANDLERS),
    )


@dataclass(frozen=True)
class Changes:
    """What a committed batch publishes."""

    recordings: list[RecordingState]
    attendance: list[AttendanceRecord]


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
        return self.permanent or attempt >= MAX_ATTEMPTS


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
    return WebhookLogRow(
        webhook_id=envelope.webhook_id,
        event_type=event.event[:50],
        event_timestamp=event_time(event, envelope.received_at),
        zoom_meeting_id=(event.meeting_id or "")[:20],
        zoom_meeting_uuid=(event.meeting_uuid or "")[:100],
        payload=payload_json(envelope.body),
        headers=json.dumps(envelope.headers),
        processing_status=status,
        processed_at=now if status in ("completed", "skipped", "failed") else None,
        processing_attempts=item.attempt,
        last_attempt_at=now,
        error_message=message[:1000],
        error_traceback=trace[-5000:],
        attendance_records_created=outcome.records_changed if outcome else 0,
        received_at=envelope.received_at,
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

    The items `handlers.many` takes go together, in one savepoint, with their log rows in one
    statement; if that fails they go one by one like the rest. One by one, each item has its own
    savepoint: an error rolls back that item only. Connection failures propagate (the caller
    retries the whole batch). Attendance is recomputed once per occurrence the batch touched,
    after its items. Returns each item's result, in the items' order, and what to publish.
    """
    together: list[Item] = []
    if handlers.many is not None:
        together = [item for item in items if item.event.event in handlers.many_types]
    done = await _apply_together(conn, together, now, handlers) if together else None
    alone = [item for item in items if done is None or item.event.event not in handlers.many_types]
    by_item = {id(result.item): result for result in done or []}
    for item in alone:
        occurred_at = event_time(item.event, item.envelope.received_at)
        try:
            async with conn.transaction():
                handler = handlers.by_type.get(item.event.event)
                outcome = (
                    unhandled(item.event)
                    if handler is None
                    else await handler(conn, item.event, occurred_at, now)
                )
                await webhook_log.upsert(conn, [log_row(item, now, outcome=outcome)])
            by_item[id(item)] = ItemResult(item, outcome=outcome)
        except psycopg.OperationalError:
            raise
        except Exception as exc:
            by_item[id(item)] = await _log_failure(conn, item, _failure(exc), now)
    results = [by_item[id(item)] for item in items]
    publish: set[int] = set()
    occurrences: set[str] = set()
    attendance: dict[str, AttendanceRecord] = {}
    for result in results:
        if result.outcome is not None:
            publish |= result.outcome.publish
            occurrences |= result.outcome.recompute
            attendance.update((record.key, record) for record in result.outcome.attendance)
    records = await _recompute(conn, sorted(occurrences), handlers)
    attendance.update((record.key, record) for record in records)
    states = []
    for recording_id in sorted(publish):
        try:
            async with conn.transaction():
                states.append(await refresh(conn, recording_id))
        except psycopg.OperationalError:
            raise
        except Exception:
            # The recording's rows are written; its status and message wait for its next event.
            log.exception("could not refresh recording %d", recording_id)
    return results, Changes(states, list(attendance.values()))


async def _recompute(
    conn: AsyncConnection, occurrences: Sequence[str], handlers: Handlers
) -> list[AttendanceRecord]:
    """The occurrences together in one savepoint; if that fails, each in its own, so that one
    occurrence's trouble does not hold the others' summaries back."""
    if not occurrences:
        return []
    try:
        async with conn.transaction():
            return list(await handlers.recompute(conn, occurrences))
    except psycopg.OperationalError:
        raise
    except Exception:
        if len(occurrences) == 1:
            # The facts are stored; the occurrence is recomputed with its next webhook (or a
            # replay). Nothing accepted is lost, the summaries wait.
            log.exception("could not recompute the attendance of %s", occurrences[0])
            return []
        log.warning("could not recompute %d occurrences together", len(occurrences), exc_info=True)
    records: list[AttendanceRecord] = []
    for meeting_uuid in occurrences:
        records += await _recompute(conn, [meeting_uuid], handlers)
    return records


def _failure(exc: BaseException) -> Failure:
    return Failure(
        f"{type(exc).__name__}: {exc}",
        "".join(traceback.format_exception(exc)),
        isinstance(exc, PermanentError),
    )


async def _apply_together(
    conn: AsyncConnection, items: Sequence[Item], now: datetime, handlers: Handlers
) -> list[ItemResult] | None:
    """The items through `handlers.many` and their log rows in one statement, in one savepoint;
    None when that failed (rolled back: the caller takes them one by one)."""
    assert handlers.many is not None
    try:
        async with conn.transaction():
            outcomes = await handlers.many(conn, [item.event for item in items])
            results = [
                ItemResult(item, failure=_failure(outcome))
                if isinstance(outcome, Exception)
                else ItemResult(item, outcome=outcome)
                for item, outcome in zip(items, outcomes, strict=True)
            ]
            await webhook_log.upsert(
                conn,
                [log_row(r.item, now, outcome=r.outcome, failure=r.failure) for r in results],
            )
        return results
    except psycopg.OperationalError:
        raise
    except Exception:
        log.warning(
            "%d webhooks could not be applied together; one by one", len(items), exc_info=True
        )
        return None


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
