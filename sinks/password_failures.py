"""recording_password_failures: the counters that lock out password guessing (ingest's
`recording_api.passwords`), shared by every API process.

A counter is (scope, key): ('recording', its id) or ('caller', its address or user). Its window
starts at its first attempt; an attempt after the window starts a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from psycopg import AsyncConnection

Counter = tuple[str, str]
"""(scope, key)."""

TAKE_SQL = """
INSERT INTO recording_password_failures AS f (scope, key, created_at, failures)
SELECT scope, key, %(now)s, 1 FROM unnest(%(scopes)s::text[], %(keys)s::text[]) AS c(scope, key)
ON CONFLICT (scope, key) DO UPDATE SET
    updated_at = now(),
    failures = CASE WHEN f.created_at <= %(now)s - %(window)s THEN 1 ELSE f.failures + 1 END,
    created_at = CASE WHEN f.created_at <= %(now)s - %(window)s THEN %(now)s ELSE f.created_at END
RETURNING scope, key, failures, created_at
"""


async def take(
    conn: AsyncConnection, counters: Sequence[Counter], now: datetime, window: timedelta
) -> dict[Counter, tuple[int, datetime]]:
    """Count one attempt on each counter (before its outcome is known, so that concurrent
    attempts cannot pass a limit together); each counter's attempts in its window and the
    window's start."""
    cur = await conn.execute(
        TAKE_SQL,
        {
            "now": now,
            "window": window,
            "scopes": [scope for scope, _ in counters],
            "keys": [key for _, key in counters],
        },
    )
    return {(str(s), str(k)): (int(n), start) for s, k, n, start in await cur.fetchall()}


async def give_back(conn: AsyncConnection, counters: Sequence[Counter]) -> None:
    """Take back an attempt that is no failure: it succeeded, or it was refused unhashed."""
    await conn.execute(
        "UPDATE recording_password_failures SET failures = GREATEST(failures - 1, 0), updated_at = now()"
        " WHERE (scope, key) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
        ([scope for scope, _ in counters], [key for _, key in counters]),
    )
