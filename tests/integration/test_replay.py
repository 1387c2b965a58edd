"""Replay: wipe the derived tables, replay the raw topic, and get the same rows back; replay
again over them and nothing changes. Views counted before the rebuild, and the LMS progress
they fed, still point at their recordings after it, and go on counting there."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import psycopg
import pytest

from tests.conftest import SECRET
from tests.integration.conftest import Pipeline, count_rows, wait_for, wait_for_rows
from tests.integration.derived import WIPE, checksums, replay, rows_of
from zoomstream.samples import dumps, meeting_burst, sign

pytestmark = pytest.mark.integration
JWT_SECRET = "platform-jwt-secret-for-the-replay-test-0123456789abcdef"
PROGRESS = (
    "SELECT v.view_count, v.total_watch_seconds, p.total_time_seconds, p.status"
    " FROM recording_views v JOIN zoom_recordings r ON r.id = v.recording_id"
    " JOIN module_contents c ON c.zoom_recording_id = r.id"
    " JOIN content_progress p ON p.content_id = c.id AND p.registration_id = v.registration_id"
)


def watch(pipeline: Pipeline, recording: str, user: str, beacons: int, session: str) -> None:
    """A viewer opens the recording, then sends `beacons` progress beacons a second apart
    (each claims 1 s: the server credits the time since the previous request)."""
    token = jwt.encode({"sub": user, "exp": int(time.time()) + 3600}, JWT_SECRET, "HS256")
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=pipeline.url, timeout=10, headers=headers) as client:
        assert client.get(f"/api/recordings/{recording}/access/").status_code == 200
        for n in range(beacons):
            time.sleep(1.1)  # the watched time being measured, not a wait for a result
            body = {"position_seconds": n + 1, "watch_seconds": 1, "beacon_id": f"{session}-{n}"}
            response = client.post(f"/api/recordings/{recording}/progress/", json=body)
            assert response.status_code == 202, response.text


def test_wipe_and_replay_gives_back_every_derived_row(
    pipeline: Pipeline, database_url: str
) -> None:
    start = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(hours=2)
    events = []
    with psycopg.connect(database_url) as conn:
        viewer = conn.execute(
            "INSERT INTO users (email, name) VALUES ('viewer@x.org', 'Viewer') RETURNING id, uuid"
        ).fetchone()
        assert viewer is not None
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
            conn.execute(  # a viewer of the recordings, not in the meeting
                "INSERT INTO registrations (event_id, user_id, email) VALUES (%s, %s, %s)",
                (event[0], viewer[0], "viewer@x.org"),
            )
            events += meeting_burst(meeting_id, f"occ{n}==", start + timedelta(minutes=n), 24)
    bodies = [dumps(e) for e in events]
    began = datetime.now(tz=UTC) - timedelta(seconds=5)
    pipeline.env["PLATFORM_JWT_SECRET"] = JWT_SECRET
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
    pipeline.wait_workers_caught_up()  # every batch committed, the last summaries included
    with psycopg.connect(database_url) as conn:
        recordings = conn.execute(
            "SELECT id, uuid, event_id FROM zoom_recordings ORDER BY zoom_recording_id"
        ).fetchall()
        for recording_id, _uuid, event_id in recordings:  # the platform links them into modules
            conn.execute(
                "INSERT INTO module_contents (event_id, content_type, zoom_recording_id)"
                " VALUES (%s, 'recording', %s)",
                (event_id, recording_id),
            )
    for _id, recording, _event in recordings[:2]:
        watch(pipeline, str(recording), str(viewer[1]), 2, "before")
    wait_for(
        database_url, PROGRESS, (), lambda rows: sorted(rows) == [(1, 2, 2, "in_progress")] * 2
    )
    pipeline.stop_all()
    original = checksums(database_url)
    logs_before = rows_of(database_url, "zoom_webhook_logs")
    assert original["zoom_recordings"][0] == 3 and original["attendance_summaries"][0] == 72
    assert original["recording_views"][0] == 2 and original["content_progress"][0] == 2

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

    # The viewer goes on watching the rebuilt recording: the same rows count on.
    pipeline.start_ingest()
    pipeline.start_worker()
    watch(pipeline, str(recordings[0][1]), str(viewer[1]), 1, "after")
    wait_for(
        database_url,
        PROGRESS,
        (),
        lambda rows: sorted(rows) == [(1, 2, 2, "in_progress"), (2, 3, 3, "in_progress")],
    )
    with psycopg.connect(database_url) as conn:
        counted = conn.execute(
            "SELECT view_count, unique_viewers FROM zoom_recordings WHERE uuid = %s",
            (recordings[0][1],),
        ).fetchone()
    assert counted == (2, 1)
