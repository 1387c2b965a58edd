"""What landed in PostgreSQL for one meeting id, as the demo shows it (synchronous reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

Connection = psycopg.Connection[tuple[Any, ...]]


def ensure_event(conn: Connection, meeting_id: str, title: str) -> None:
    """A live platform event for the meeting id, unless one exists (local platform tables)."""
    conn.execute(
        "INSERT INTO events (title, zoom_meeting_id, auto_publish_recordings)"
        " SELECT %s, %s, true WHERE NOT EXISTS (SELECT 1 FROM events WHERE zoom_meeting_id = %s)",
        (title, meeting_id, meeting_id),
    )


def log_rows(conn: Connection, meeting_id: str) -> list[tuple[str, str, datetime, str]]:
    """(event type, status, event time, error message) of the meeting's log rows, in order."""
    return conn.execute(
        "SELECT event_type, processing_status, event_timestamp, error_message"
        " FROM zoom_webhook_logs WHERE zoom_meeting_id = %s ORDER BY event_timestamp, id",
        (meeting_id,),
    ).fetchall()


def recordings(conn: Connection, meeting_id: str) -> list[tuple[str, str, bool, int, int, str]]:
    """(recording id, status, published, seconds, file count, file types) per recording."""
    return conn.execute(
        "SELECT r.zoom_recording_id, r.status, r.is_published, r.duration_seconds,"
        " count(f.id), string_agg(f.file_type, ',' ORDER BY f.file_type)"
        " FROM zoom_recordings r LEFT JOIN zoom_recording_files f ON f.recording_id = r.id"
        " WHERE r.zoom_meeting_id = %s GROUP BY r.id",
        (meeting_id,),
    ).fetchall()


def attendance(conn: Connection, meeting_id: str) -> tuple[int, int, int, int]:
    """(people, attended, matched to a registration, sessions) over the meeting's summaries."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE attended), count(registration_id),"
        " coalesce(sum(session_count), 0) FROM attendance_summaries WHERE zoom_meeting_id = %s",
        (meeting_id,),
    ).fetchone()
    assert row is not None  # an aggregate always has its row
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])
