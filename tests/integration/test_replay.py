"""Replay: wipe the derived tables, replay the raw topic, and get the same rows back; replay
again over them and nothing changes."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.conftest import SECRET
from tests.integration.conftest import Pipeline, count_rows, wait_for_rows
from tests.integration.derived import WIPE, checksums, replay, rows_of
from zoomstream.samples import dumps, meeting_burst, sign

pytestmark = pytest.mark.integration


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
    pipeline.wait_workers_caught_up()  # every batch committed, the last summaries included
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
