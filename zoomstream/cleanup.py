"""`zoomstream cleanup`, also run daily by the worker's crontab on the leader."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sinks import Database
from sinks.retention import RETENTION_DAYS, delete_batch, table_exists

log = logging.getLogger(__name__)


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
