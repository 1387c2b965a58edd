"""Replay: wipe the derived tables, replay the raw topic, and get the same rows back; replay
again over them and nothing changes."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from tests.conftest import SECRET
from tests.integration.conftest import ROOT, Pipeline, count_rows, wait_for_rows
from zoomstream.samples import dumps, meeting_burst, sign

# Every derived table, without what a rebuild cannot reproduce: surrogate ids and the numeric
# foreign keys to them, row times, publication counters and the processing clock.
DERIVED = {
    "zoom_webhook_logs": ("id", "created_at", "updated_at", "processed_at", "last_attempt_at"),
    "zoom_recordings": ("id", "created_at", "updated_at", "version"),
    "zoom_recording_files": ("id", "created_at", "updated_at", "recording_id"),
    "zoom_meetings": ("id", "created_at", "updated_at"),
    "zoom_participant_facts": ("id", "created_at"),
    "attendance_sessions": ("id", "created_at", "updated_at"),
    "attendance_summaries": ("id", "created_at", "updated_at", "version"),
    "attendance_flags": ("created_at",),
}
WIPE = (
    "TRUNCATE zoom_webhook_logs, zoom_recordings, zoom_recording_files, zoom_meetings,"
    " zoom_participant_facts, attendance_sessions, attendance_summaries, attendance_flags CASCADE;"
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
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoomstream",
            "replay",
            "--from",
            f"{start:%Y-%m-%dT%H:%M:%S}",
            "--to",
            f"{end:%Y-%m-%dT%H:%M:%S}",
        ],
        env=pipeline.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_wipe_and_replay_gives_back_every_derived_row(
    pipeline: Pipeline, database_url: str
) -> None:
    start = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=2)
    events = []
    with psycopg.connect(database_url) as conn:
        for n in range(3):
            meeting_id = str(81_000_000_000 + n)
            event = conn.execute(
                "INSERT INTO events (title, zoom_meeting_id, auto_publish_recordings)"
                " VALUES (%s, %s, true) RETURNING id",
                (f"Session {n}", meeting_id),
            ).fetchone()
            assert event is not None
            for p in range(0, 24, 2):  # half of the participants registered, by email
                conn.execute(
                    "INSERT INTO registrations (event_id, email, full_name) VALUES (%s, %s, %s)",
                    (event[0], f"person{p}@example.org", f"Person {p}"),
                )
            events += meeting_burst(meeting_id, f"occ{n}==", start + timedelta(minutes=n), 24)
    bodies = [dumps(e) for e in events]
    began = datetime.now(tz=UTC) - timedelta(seconds=5)
    pipeline.start_ingest()
    pipeline.start_worker()
    with httpx.Client(base_url=pipeline.url, timeout=10) as client:
        for body in bodies + bodies[:10]:  # some redeliveries too
            response = client.post(
                "/webhooks/zoom",
                content=body,
                headers=sign(SECRET.encode(), body, int(time.time())),
            )
            assert response.status_code == 200
    assert wait_for_rows(database_url, len(bodies)) == len(bodies)
    time.sleep(2)
    pipeline.stop_all()
    original = checksums(database_url)
    logs_before = rows_of(database_url, "zoom_webhook_logs")
    assert original["zoom_recordings"][0] == 3 and original["attendance_summaries"][0] == 72

    with psycopg.connect(database_url) as conn:
        conn.execute(WIPE)
    assert count_rows(database_url) == 0
    output = replay(pipeline, began, datetime.now(tz=UTC) + timedelta(seconds=5))
    assert f"applied {len(bodies)} webhooks, 10 duplicate deliveries skipped" in output, output
    logs_after = rows_of(database_url, "zoom_webhook_logs")
    assert sorted(logs_after - logs_before)[:1] == sorted(logs_before - logs_after)[:1]
    assert checksums(database_url) == original

    again = replay(pipeline, began, datetime.now(tz=UTC) + timedelta(seconds=5))
    assert "applied" in again
    assert checksums(database_url) == original  # replaying over the rows duplicates nothing
