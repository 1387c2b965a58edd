"""Derived tables compared across runs: checksums without what a rebuild cannot reproduce, the
links from what a rebuild keeps (views, LMS progress) to the recordings, and `zoomstream replay`
run as the operator runs it."""

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
# What outlives a rebuild, compared through the links a rebuild must not break: each view row
# and each LMS progress row with the recording it points at (by Zoom's key: NULL when the link
# is broken). Their own ids and times are the tables' (never wiped), not the rebuild's.
LINKED = {
    "recording_views": (
        "SELECT ((to_jsonb(v) - %s::text[])"
        " || jsonb_build_object('recording', r.zoom_recording_id))::text AS r"
        " FROM recording_views v LEFT JOIN zoom_recordings r ON r.id = v.recording_id",
        ("id", "created_at", "updated_at"),
    ),
    "content_progress": (
        "SELECT ((to_jsonb(p) - %s::text[])"
        " || jsonb_build_object('recording', r.zoom_recording_id))::text AS r"
        " FROM content_progress p JOIN module_contents c ON c.id = p.content_id"
        " LEFT JOIN zoom_recordings r ON r.id = c.zoom_recording_id",
        ("id", "created_at", "updated_at"),
    ),
}
# The runbook's wipe (docs/operations.md, "Replay"): no CASCADE, which would reach into tables
# that are not derived (the platform's, the view agent's).
WIPE = (
    "TRUNCATE zoom_webhook_logs, zoom_recordings, zoom_recording_files, zoom_meetings,"
    " zoom_participant_facts, attendance_sessions, attendance_summaries, attendance_flags,"
    " attendance_identities;"
    " UPDATE registrations SET attended = false"
)


def _rows_sql(table: str) -> tuple[str, list[str]]:
    """The query of a table's rows as comparable text, and its parameter (columns left out)."""
    if table in LINKED:
        sql, excluded = LINKED[table]
        return sql, list(excluded)
    return f"SELECT (to_jsonb(t) - %s::text[])::text AS r FROM {table} t", list(DERIVED[table])


def rows_of(database_url: str, table: str) -> set[str]:
    """A table's rows as comparable text (to show what differs when a checksum does)."""
    sql, excluded = _rows_sql(table)
    with psycopg.connect(database_url) as conn:
        found = conn.execute(sql, (excluded,)).fetchall()
    return {row[0] for row in found}


def checksums(database_url: str) -> dict[str, tuple[int, str]]:
    found = {}
    with psycopg.connect(database_url) as conn:
        for table in [*DERIVED, *LINKED]:
            sql, excluded = _rows_sql(table)
            row = conn.execute(
                f"SELECT count(*), md5(COALESCE(string_agg(r, '|' ORDER BY r), '')) FROM ({sql}) s",
                (excluded,),
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
