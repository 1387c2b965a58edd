"""Retention: old log rows deleted in bounded batches, each its own short transaction (defect 19).

`cleanup` is `zoomstream cleanup`, also run daily by the worker's crontab on the leader."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from psycopg import AsyncConnection

from sinks.postgres import Database

log = logging.getLogger(__name__)

# Table → days kept by default (the spec: webhook logs 90 days, email logs one year).
RETENTION_DAYS = {
    "zoom_webhook_logs": 90,
    "email_logs": 365,
    "email_events": 365,
    # Password-failure windows (sinks.password_failures) last minutes; a day is plenty.
    "recording_password_failures": 1,
    # The external API call log (issue 17.4): one row per HTTP attempt to Zoom's API.
    "external_api_calls": 90,
}


async def table_exists(conn: AsyncConnection, table: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = await cur.fetchone()
    return bool(row and row[0])


async def delete_batch(conn: AsyncConnection, table: str, cutoff: datetime, batch_size: int) -> int:
    """Delete up to `batch_size` rows created before `cutoff`, oldest first; return how many."""
    if table not in RETENTION_DAYS:
        raise ValueError(f"no retention rule for table {table!r}")
    cur = await conn.execute(
        f"DELETE FROM {table} WHERE id IN ("
        f" SELECT id FROM {table} WHERE created_at < %s ORDER BY created_at, id LIMIT %s"
        " FOR UPDATE SKIP LOCKED)",
        (cutoff, batch_size),
    )
    return cur.rowcount


async def cleanup(
    db: Database, now: datetime, days: dict[str, int] | None = None, batch_size: int = 5000
) -> dict[str, int]:
    """Delete rows past their retention, table by table, `batch_size` rows per transaction.

    Tables that do not exist yet (email_logs before the email work) are left out.
    """
    deleted: dict[str, int] = {}
    for table, default_days in RETENTION_DAYS.items():
        async with db.transaction() as conn:
            if not await table_exists(conn, table):
                continue
        cutoff = now - timedelta(days=(days or {}).get(table, default_days))
        total = 0
        while True:
            async with db.transaction() as conn:
                count = await delete_batch(conn, table, cutoff, batch_size)
            total += count
            if count < batch_size:
                break
        deleted[table] = total
        log.info(
            "cleanup: %d rows of %s created before %s deleted", total, table, cutoff.isoformat()
        )
    return deleted
