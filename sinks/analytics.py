"""Reads of the analytics views (migration 0007) and of the external API call log (0019) for
the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

QUERIES = {
    "webhook-volume": (
        "SELECT hour, event_type, processing_status, webhooks FROM analytics_webhook_volume_hourly"
        " WHERE hour >= %(since)s ORDER BY hour, event_type, processing_status"
    ),
    "attendance": (
        "SELECT event_uuid, title, registrations, attended, attendance_rate_percent, participants,"
        " average_minutes FROM analytics_attendance_rate ORDER BY title LIMIT 50"
    ),
    "recordings": (
        "SELECT recording_uuid, title, status, is_published, view_count, unique_viewers, completions,"
        " completion_rate_percent, average_watch_seconds FROM analytics_recording_engagement"
        " ORDER BY view_count DESC, title LIMIT 20"
    ),
    "email": (
        "SELECT day, email_type, delivery_status, emails FROM analytics_email_delivery_daily"
        " WHERE day >= %(since)s ORDER BY day, email_type, delivery_status"
    ),
    # Per attempt: a 429 retried into a 200 is two calls, one of them an error. On the table,
    # not a view: `created_at >= since` reads only the period, by the index.
    "api-calls": (
        "SELECT date_trunc('hour', created_at) AS hour, service, count(*) AS calls,"
        " count(*) FILTER (WHERE error IS NOT NULL) AS errors FROM external_api_calls"
        " WHERE created_at >= %(since)s GROUP BY 1, 2 ORDER BY 1, 2"
    ),
}


async def rows(conn: AsyncConnection, name: str, since: datetime) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(QUERIES[name], {"since": since})
        return await cur.fetchall()
