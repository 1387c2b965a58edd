"""Retention deletes old logs in bounded batches and nothing younger."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sinks import Database
from sinks.retention import cleanup, delete_batch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

INSERT_OLD_AND_NEW = """
INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp, received_at, created_at)
SELECT md5(n::text) || md5((n + 1)::text), 'meeting.started', %(now)s, %(now)s,
       CASE WHEN n <= 12000 THEN %(now)s - interval '91 days' ELSE %(now)s - interval '89 days' END
FROM generate_series(1, 12010) AS n
"""
INSERT_EMAILS = """
INSERT INTO email_logs (uuid, recipient_email, email_type, subject, from_email, requested_at,
                        message_id, created_at)
SELECT gen_random_uuid(), 'a@x.org', 'other', 's', 'f@x.org', %(now)s, n || '@x',
       CASE WHEN n <= 7 THEN %(now)s - interval '366 days' ELSE %(now)s - interval '364 days' END
FROM generate_series(1, 10) AS n
"""
INSERT_EMAIL_EVENTS = """
INSERT INTO email_events (provider, event_id, kind, occurred_at, content_key, created_at)
SELECT 'resend', 'ev-' || n, 'delivered', %(now)s, md5('ev-' || n) || md5(n::text),
       CASE WHEN n <= 4 THEN %(now)s - interval '366 days' ELSE %(now)s - interval '1 day' END
FROM generate_series(1, 6) AS n
"""
INSERT_PASSWORD_FAILURES = """
INSERT INTO recording_password_failures (scope, key, created_at, failures)
VALUES ('caller', 'address:10.0.0.1', %(now)s - interval '25 hours', 5),
       ('caller', 'address:10.0.0.2', %(now)s - interval '10 minutes', 2)
"""
INSERT_API_CALLS = """
INSERT INTO external_api_calls (service, operation, method, url, status_code, duration_ms,
                                attempt, created_at)
SELECT 'zoom', 'get_meeting_recordings', 'GET', 'https://api.zoom.us/v2/meetings/m/recordings',
       200, 120.5, 1,
       CASE WHEN n <= 5 THEN %(now)s - interval '91 days' ELSE %(now)s - interval '89 days' END
FROM generate_series(1, 8) AS n
"""


def test_logs_past_their_retention_go_in_batches_and_younger_ones_stay(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(INSERT_OLD_AND_NEW, {"now": NOW})
        conn.execute(INSERT_EMAILS, {"now": NOW})
        conn.execute(INSERT_EMAIL_EVENTS, {"now": NOW})
        conn.execute(INSERT_PASSWORD_FAILURES, {"now": NOW})
        conn.execute(INSERT_API_CALLS, {"now": NOW})

    async def run() -> dict[str, int]:
        db = Database(database_url)
        try:
            return await cleanup(db, NOW, batch_size=5000)
        finally:
            await db.close()

    assert asyncio.run(run()) == {
        "zoom_webhook_logs": 12000,
        "email_logs": 7,
        "email_events": 4,
        "recording_password_failures": 1,
        "external_api_calls": 5,
    }
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM zoom_webhook_logs").fetchone() == (10,)
        assert conn.execute("SELECT count(*) FROM email_logs").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM email_events").fetchone() == (2,)
        assert conn.execute("SELECT key FROM recording_password_failures").fetchall() == [
            ("address:10.0.0.2",)
        ]
        assert conn.execute(
            "SELECT count(*), min(created_at) FROM external_api_calls"
        ).fetchone() == (3, NOW - timedelta(days=89))


def test_a_batch_deletes_at_most_its_size_oldest_first(database_url: str) -> None:
    """What makes cleanup bounded: one call, one short transaction, `batch_size` rows at most."""
    with psycopg.connect(database_url) as conn:
        conn.execute(INSERT_OLD_AND_NEW, {"now": NOW})
        (oldest,) = conn.execute("SELECT min(id) FROM zoom_webhook_logs").fetchone() or (0,)

    async def one_batch() -> int:
        db = Database(database_url)
        try:
            async with db.transaction() as conn:
                return await delete_batch(conn, "zoom_webhook_logs", NOW - timedelta(days=90), 5000)
        finally:
            await db.close()

    assert asyncio.run(one_batch()) == 5000
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM zoom_webhook_logs").fetchone() == (7010,)
        (left,) = conn.execute("SELECT min(id) FROM zoom_webhook_logs").fetchone() or (0,)
    assert left == oldest + 5000  # the oldest 5,000 went
