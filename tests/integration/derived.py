"""Derived tables compared across runs: checksums without what a rebuild cannot reproduce, and
`zoomstream replay` run as the operator runs it."""

from __future__ import annotations

from datetime import datetime

import psycopg

from tests.integration.conftest import Pipeline

# Every derived table, without what a rebuild cannot reproduce: surrogate ids and the numeric
# foreign keys to them, row times, publication counters and the processing clock.
DERIVED = {
    "zoom_webhook_logs": ("id", "created_at", "updated_at", "processed_at", "last_attempt_at"),
    "zoom_recordings": ("id", "created_at", "updated_at", "version"),
    "zoom_recording_files": ("id", "created_at", "updated_at", "recording_id"),
    "zoom_meetings": ("id", "created_at", "updated_at", "settled_at"),
    "zoom_participant_facts": ("id", "created_at", "updated_at"),
    "attendance_sessions": ("id", "created_at", "updated_at"),
    "attendance_summaries": ("id", "created_at", "updated_at", "version"),
    "attendance_flags": ("id", "created_at", "updated_at"),
    "attendance_identities": ("id", "created_at", "updated_at"),
}
WIPE = (
    "TRUNCATE zoom_webhook_logs, zoom_recordings, zoom_recording_files, zoom_meetings,"
    " zoom_participant_facts, attendance_sessions, attendance_summaries, attendance_flags,"
    " attendance_identities CASCADE;"
    " UPDATE registrations SET attended = false"
)


def rows_of(database_url: str, table: str) -> set[str]:
    """A table's rows as comparable text (to show what differs when a checksum does)."""
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            f"SELECT (to_jsonb(t) - %s::text[])::text FROM {table} t", (list(DERIVED[table]),)
        ).fetchall()
    return {row[0] for row in found}


def checksums(database_url: str) -> dict[str, tuple[int, str]]:
    found = {}
    with psycopg.connect(database_url) as conn:
        for table, excluded in DERIVED.items():
            row = conn.execute(
                f"SELECT count(*), md5(COALESCE(string_agg(r, '|' ORDER BY r), ''))"
                f" FROM (SELECT (to_jsonb(t) - %s::text[])::text AS r FROM {table} t) s",
                (list(excluded),),
            ).fetchone()
            assert row is not None
            found[table] = (int(row[0]), str(row[1]))
        attended = conn.execute(
            "SELECT md5(string_agg(id || ':' || attended, ',' ORDER BY id)) FROM registrations"
        ).fetchone()
    assert attended is not None
    found["registrations.attended"] = (0, str(attended[0]))
    return found


def replay(pipeline: Pipeline, start: datetime, end: datetime) -> str:
    return pipeline.command(
        "replay", "--from", f"{start:%Y-%m-%dT%H:%M:%S}", "--to", f"{end:%Y-%m-%dT%H:%M:%S}"
    )
