"""zoom_webhook_logs: one row per distinct delivery, written idempotently in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime

from psycopg import AsyncConnection


@dataclass(frozen=True)
class WebhookLogRow:
    """A zoom_webhook_logs row. `payload` and `headers` are JSON text, cast to jsonb on insert."""

    webhook_id: str
    event_type: str
    event_timestamp: datetime
    zoom_meeting_id: str
    zoom_meeting_uuid: str
    payload: str
    headers: str
    processing_status: str
    processed_at: datetime | None
    processing_attempts: int
    last_attempt_at: datetime | None
    error_message: str
    error_traceback: str
    attendance_records_created: int
    received_at: datetime


# The platform event is matched in the same statement: among events with the meeting id that are
# not deleted, the most recently created one (recurring meetings reuse ids; see docs/design.md).
INSERT_SQL = """
INSERT INTO zoom_webhook_logs (
    webhook_id, event_type, event_timestamp, zoom_meeting_id, zoom_meeting_uuid, event_id,
    payload, headers, processing_status, processed_at, processing_attempts, last_attempt_at,
    error_message, error_traceback, attendance_records_created, received_at
)
SELECT
    %s, %s, %s, %s, %s,
    (SELECT e.id FROM events e
      WHERE e.zoom_meeting_id = %s AND e.zoom_meeting_id <> '' AND e.deleted_at IS NULL
      ORDER BY e.created_at DESC, e.id DESC LIMIT 1),
    %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s
ON CONFLICT (webhook_id) DO NOTHING
"""


def _params(row: WebhookLogRow) -> tuple[object, ...]:
    values = astuple(row)
    # zoom_meeting_id is used twice: once as a column, once to match the event.
    return (*values[:5], row.zoom_meeting_id, *values[5:])


async def write(conn: AsyncConnection, rows: Sequence[WebhookLogRow]) -> None:
    """Insert the rows in the caller's transaction; rows whose webhook_id exists are left alone."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(INSERT_SQL, [_params(row) for row in rows])
