"""Retention: old log rows deleted in bounded batches, each its own short transaction (defect 19)."""

from __future__ import annotations

from datetime import datetime

from psycopg import AsyncConnection

# Table → days kept by default (the spec: webhook logs 90 days, email logs one year).
RETENTION_DAYS = {"zoom_webhook_logs": 90, "email_logs": 365, "email_events": 365}


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
