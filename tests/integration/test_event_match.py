"""The platform event of an occurrence is found with index probes, whatever the size of the log
table: on real PostgreSQL, with the statistics of a table that one occurrence dominates (as one
big meeting does), a new occurrence's match reads a few pages, not the table."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from schemas.rows import WebhookLogRow
from sinks.webhook_log import upsert

pytestmark = pytest.mark.integration

MEETING = "86000000000"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def log_row(webhook_id: str, meeting_id: str, uuid: str) -> WebhookLogRow:
    payload = json.dumps({"event": "meeting.participant_joined", "n": webhook_id, "pad": "x" * 400})
    return WebhookLogRow(
        webhook_id, "meeting.participant_joined", NOW, meeting_id, uuid, payload, "{}",
        "completed", NOW, 1, NOW, "", "", 0, NOW,
    )  # fmt: skip


def big_occurrence(database_url: str, rows: int) -> int:
    """`rows` log rows of one matched occurrence, analyzed; returns the table's pages."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO events (title, zoom_meeting_id) VALUES ('Big', %s), ('Next', %s)",
            (MEETING, str(int(MEETING) + 1)),
        )
        conn.commit()

    async def write() -> None:
        async with await AsyncConnection.connect(database_url) as conn, conn.transaction():
            await upsert(conn, [log_row(f"big-{n}", MEETING, "big==") for n in range(rows)])

    asyncio.run(write())
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE zoom_webhook_logs")
        matched = conn.execute(
            "SELECT count(*) FROM zoom_webhook_logs WHERE event_id IS NOT NULL"
        ).fetchone()
        assert matched == (rows,)
        pages = conn.execute(
            "SELECT relpages FROM pg_class WHERE relname = 'zoom_webhook_logs'"
        ).fetchone()
    assert pages is not None
    return int(pages[0])


def buffers(conn: psycopg.Connection[tuple[Any, ...]], sql: str, *params: object) -> int:
    """Shared buffers the statement touched, its functions included."""
    row = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return int(plan.get("Shared Hit Blocks", 0)) + int(plan.get("Shared Read Blocks", 0))


def test_a_new_occurrence_is_matched_without_reading_the_log_table(database_url: str) -> None:
    pages = big_occurrence(database_url, 3_000)
    assert pages > 150  # reading the table would show
    with psycopg.connect(database_url) as conn:
        event = conn.execute(
            "SELECT zoomstream_match_event(%s, %s)", (str(int(MEETING) + 1), "new==")
        ).fetchone()
        assert event is not None and event[0] is not None
        touched = buffers(
            conn, "SELECT zoomstream_match_event(%s, %s)", str(int(MEETING) + 1), "new=="
        )
    assert touched < 20, f"the match read {touched} pages of a {pages}-page table"


def test_a_batch_matches_each_occurrence_once(database_url: str) -> None:
    """200 rows of an occurrence not logged yet: the match runs once for the occurrence, not
    once per row (the batch statement materializes it)."""
    big_occurrence(database_url, 300)
    batch = [log_row(f"new-{n}", str(int(MEETING) + 1), "new==") for n in range(200)]

    async def write() -> int:
        async with await AsyncConnection.connect(database_url) as conn, conn.transaction():
            await conn.execute("SET LOCAL track_functions = 'all'")
            await upsert(conn, batch)
            cur = await conn.execute(
                "SELECT pg_stat_get_xact_function_calls('zoomstream_match_event'::regproc)"
            )
            row = await cur.fetchone()
            assert row is not None
            return int(row[0] or 0)

    calls = asyncio.run(write())
    with psycopg.connect(database_url) as conn:
        titles = conn.execute(
            "SELECT DISTINCT e.title FROM zoom_webhook_logs l JOIN events e ON e.id = l.event_id"
            " WHERE l.zoom_meeting_uuid = 'new=='"
        ).fetchall()
    assert titles == [("Next",)]
    assert calls == 1
