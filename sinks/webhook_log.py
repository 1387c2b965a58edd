"""zoom_webhook_logs: one row per distinct delivery, written idempotently."""

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


# The platform event is matched in the same statement by zoomstream_match_event (migration
# 0002): not deleted, and for a recurring meeting id the event the occurrence was matched to.
# A row in a final state (completed, skipped) is never changed; a pending or failed one takes
# the result of a later attempt.
UPSERT_SQL = """
INSERT INTO zoom_webhook_logs AS l (
    webhook_id, event_type, event_timestamp, zoom_meeting_id, zoom_meeting_uuid, event_id,
    payload, headers, processing_status, processed_at, processing_attempts, last_attempt_at,
    error_message, error_traceback, attendance_records_created, received_at
)
SELECT
    %s, %s, %s, %s, %s, zoomstream_match_event(%s, %s),
    %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s
ON CONFLICT (webhook_id) DO UPDATE SET
    processing_status = EXCLUDED.processing_status,
    processed_at = EXCLUDED.processed_at,
    processing_attempts = EXCLUDED.processing_attempts,
    last_attempt_at = EXCLUDED.last_attempt_at,
    error_message = EXCLUDED.error_message,
    error_traceback = EXCLUDED.error_traceback,
    attendance_records_created = EXCLUDED.attendance_records_created,
    event_id = COALESCE(l.event_id, EXCLUDED.event_id),
    updated_at = now()
WHERE l.processing_status IN ('pending', 'processing', 'failed')
  AND EXCLUDED.processing_attempts >= l.processing_attempts
"""


def _params(row: WebhookLogRow) -> tuple[object, ...]:
    values = astuple(row)
    # meeting id and uuid are used twice: as columns, and to match the event.
    return (*values[:5], row.zoom_meeting_id, row.zoom_meeting_uuid, *values[5:])


async def upsert(conn: AsyncConnection, rows: Sequence[WebhookLogRow]) -> None:
    """Write the rows in the caller's transaction (see UPSERT_SQL for what an existing row takes)."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(UPSERT_SQL, [_params(row) for row in rows])
