"""external_api_calls: the external API call log (migration 0019), written in batches by
ingest's api_call_log: a batch is one INSERT of arrays, in one short transaction."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import AsyncConnection

from schemas.rows import ApiCallRow
from sinks.postgres import Database, statement_timeout

INSERT_SQL = """
INSERT INTO external_api_calls (created_at, updated_at, service, operation, method, url,
    status_code, duration_ms, attempt, error, request_id, meeting_uuid, recording_id)
SELECT c.created_at, c.created_at, c.service, c.operation, c.method, c.url, c.status_code,
       c.duration_ms, c.attempt, c.error, c.request_id, c.meeting_uuid, c.recording_id
  FROM unnest(%(created_at)s::timestamptz[], %(service)s::text[], %(operation)s::text[],
              %(method)s::text[], %(url)s::text[], %(status_code)s::integer[],
              %(duration_ms)s::double precision[], %(attempt)s::integer[], %(error)s::text[],
              %(request_id)s::text[], %(meeting_uuid)s::text[], %(recording_id)s::text[])
    AS c(created_at, service, operation, method, url, status_code, duration_ms, attempt, error,
         request_id, meeting_uuid, recording_id)
"""

WRITE_TIMEOUT_SECONDS = 10.0
"""A batch that takes longer is cancelled (and kept by the writer for the next flush)."""


async def insert(conn: AsyncConnection, rows: Sequence[ApiCallRow]) -> None:
    """Insert the rows, already clipped to their columns, in one statement."""
    if not rows:
        return
    await conn.execute(
        INSERT_SQL,
        {
            "created_at": [r.created_at for r in rows],
            "service": [r.service for r in rows],
            "operation": [r.operation for r in rows],
            "method": [r.method for r in rows],
            "url": [r.url for r in rows],
            "status_code": [r.status_code for r in rows],
            "duration_ms": [r.duration_ms for r in rows],
            "attempt": [r.attempt for r in rows],
            "error": [r.error for r in rows],
            "request_id": [r.request_id for r in rows],
            "meeting_uuid": [r.meeting_uuid for r in rows],
            "recording_id": [r.recording_id for r in rows],
        },
    )


async def write(db: Database, rows: Sequence[ApiCallRow]) -> None:
    """One batch in one transaction; any failure (PostgreSQL down) propagates to the writer."""
    async with db.transaction() as conn:
        await statement_timeout(conn, WRITE_TIMEOUT_SECONDS)
        await insert(conn, rows)
