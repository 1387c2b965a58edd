"""zoom_webhook_logs: one row per distinct delivery, written idempotently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.rows import WebhookLogRow

# The platform event is matched in the same statement by zoomstream_match_event (migration
# 0002): not deleted, and for a recurring meeting id the event the occurrence was matched to.
# A row in a final state (completed, skipped) is never changed; a pending or failed one takes
# the result of a later attempt.
UPSERT_SQL = """
INSERT INTO zoom_webhook_logs AS l (
    webhook_id, event_type, event_timestamp, zoom_meeting_id, zoom_meeting_uuid, event_id,
    payload, headers, processing_status, processed_at, processing_attempts, last_attempt_at,
    error_message, error_traceback, attendance_records_created, received_at, parked
)
SELECT
    %s, %s, %s, %s, %s, zoomstream_match_event(%s, %s),
    %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s
ON CONFLICT (webhook_id) DO UPDATE SET
    processing_status = EXCLUDED.processing_status,
    processed_at = EXCLUDED.processed_at,
    processing_attempts = EXCLUDED.processing_attempts,
    last_attempt_at = EXCLUDED.last_attempt_at,
    error_message = EXCLUDED.error_message,
    error_traceback = EXCLUDED.error_traceback,
    attendance_records_created = EXCLUDED.attendance_records_created,
    parked = EXCLUDED.parked,
    event_id = COALESCE(l.event_id, EXCLUDED.event_id),
    updated_at = now()
WHERE l.processing_status IN ('pending', 'processing', 'failed')
  AND EXCLUDED.processing_attempts >= l.processing_attempts
"""


_FIELDS = tuple(f.name for f in fields(WebhookLogRow))


def _params(row: WebhookLogRow) -> tuple[object, ...]:
    values = tuple(getattr(row, name) for name in _FIELDS)  # not astuple: it deep-copies
    # meeting id and uuid are used twice: as columns, and to match the event.
    return (*values[:5], row.zoom_meeting_id, row.zoom_meeting_uuid, *values[5:])


_TYPES = {
    "event_timestamp": "timestamptz",
    "processed_at": "timestamptz",
    "last_attempt_at": "timestamptz",
    "received_at": "timestamptz",
    "processing_attempts": "integer",
    "attendance_records_created": "integer",
    "parked": "boolean",
}
_COLUMNS = ", ".join(_FIELDS)
# The same as UPSERT_SQL for many rows in one statement: the rows come in as one array per
# column, and the event is matched once per distinct occurrence (MATERIALIZED: inlined, the
# match ran once per row). The match reads the log rows committed before the statement, so all
# of an occurrence's rows in a batch match alike (as they do one by one: the first one's match
# is what the others find).
UPSERT_MANY_SQL = f"""
WITH input AS (
    SELECT * FROM unnest({", ".join(f"%b::{_TYPES.get(name, 'text')}[]" for name in _FIELDS)})
        AS i({_COLUMNS})
), matched AS MATERIALIZED (
    SELECT zoom_meeting_id, zoom_meeting_uuid,
           zoomstream_match_event(zoom_meeting_id, zoom_meeting_uuid) AS event_id
      FROM (SELECT DISTINCT zoom_meeting_id, zoom_meeting_uuid FROM input) AS occurrences
)
INSERT INTO zoom_webhook_logs AS l (event_id, {_COLUMNS})
SELECT m.event_id, {", ".join(f"i.{name}::jsonb" if name in ("payload", "headers") else f"i.{name}" for name in _FIELDS)}
  FROM input i JOIN matched m USING (zoom_meeting_id, zoom_meeting_uuid)
{UPSERT_SQL[UPSERT_SQL.index("ON CONFLICT") :]}"""


async def upsert(conn: AsyncConnection, rows: Sequence[WebhookLogRow]) -> None:
    """Write the rows in the caller's transaction (see UPSERT_SQL for what an existing row takes).

    Rows with distinct webhook ids go in one statement; a webhook id twice (which one statement
    cannot update twice) makes them go one after another."""
    if not rows:
        return
    if len(rows) > 1 and len({row.webhook_id for row in rows}) == len(rows):
        await conn.execute(
            UPSERT_MANY_SQL, [[getattr(row, name) for row in rows] for name in _FIELDS]
        )
        return
    async with conn.cursor() as cur:
        await cur.executemany(UPSERT_SQL, [_params(row) for row in rows])


FAILED_OR_STUCK_SQL = """
SELECT webhook_id, payload::text AS payload, headers, received_at, processing_attempts
  FROM zoom_webhook_logs
 WHERE NOT parked
   AND (processing_status = 'failed'
        OR (processing_status IN ('pending', 'processing') AND updated_at < %(stuck_before)s))
 ORDER BY event_timestamp, id
"""


async def failed_or_stuck(conn: AsyncConnection, stuck_before: datetime) -> list[dict[str, Any]]:
    """The rows `retry-failed` drives again: failed ones, and pending or processing ones not
    touched since `stuck_before` (a retry that never came), oldest event first; never a parked
    one (it waits for its recording)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(FAILED_OR_STUCK_SQL, {"stuck_before": stuck_before})
        return await cur.fetchall()


async def parked_count(conn: AsyncConnection) -> tuple[int, datetime | None]:
    """How many webhooks are parked, and when the oldest of them was received."""
    cur = await conn.execute(
        "SELECT count(*), min(received_at) FROM zoom_webhook_logs"
        " WHERE parked AND processing_status = 'pending'"
    )
    row = await cur.fetchone()
    return (int(row[0]), row[1]) if row else (0, None)


async def parked(conn: AsyncConnection, meeting_uuid: str) -> list[tuple[str, str, datetime]]:
    """(webhook id, payload, event time) of the occurrence's parked webhooks (pending until its
    recording arrives), oldest first, locked until the transaction ends."""
    cur = await conn.execute(
        "SELECT webhook_id, payload::text, event_timestamp FROM zoom_webhook_logs"
        " WHERE zoom_meeting_uuid = %s AND parked AND processing_status = 'pending'"
        " ORDER BY event_timestamp, id FOR UPDATE",
        (meeting_uuid,),
    )
    return await cur.fetchall()


async def complete_parked(conn: AsyncConnection, webhook_ids: Sequence[str], now: datetime) -> None:
    """Mark parked webhooks completed once they were applied."""
    if webhook_ids:
        await conn.execute(
            "UPDATE zoom_webhook_logs SET processing_status = 'completed', processed_at = %s,"
            " parked = false, error_message = '', attendance_records_created = 0, updated_at = now()"
            " WHERE webhook_id = ANY(%s)",
            (now, list(webhook_ids)),
        )
