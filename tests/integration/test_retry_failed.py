"""retry-failed: a webhook that failed three times (dead-lettered) and one stuck in processing
are driven through again once the cause is gone, each by its event type."""

from __future__ import annotations

import psycopg
import pytest

from schemas.topics import ZOOM_DEAD_LETTERS
from tests.integration.conftest import Pipeline, messages_in_topic, wait_for
from tests.integration.zoom_webhooks import MEETING, completed, post
from tests.polling import poll
from zoomstream.samples import dumps, meeting_object, zoom_event

pytestmark = pytest.mark.integration


def retry(pipeline: Pipeline) -> str:
    return pipeline.command("retry-failed", "--stuck-after-minutes", "30")


def test_failed_and_stuck_webhooks_are_driven_again(
    running: Pipeline, database_url: str, topic_prefix: str
) -> None:
    # A cause that goes away: for now no recording file may be written.
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "ALTER TABLE zoom_recording_files ADD CONSTRAINT not_yet CHECK (file_size_bytes < 0)"
        )
    post(running, completed("occ-retry==", "t1", 1_764_500_000_000))
    wait_for(
        database_url,
        "SELECT processing_status FROM zoom_webhook_logs WHERE zoom_meeting_uuid = %s",
        ("occ-retry==",),
        lambda rows: rows == [("failed",)],
        timeout=90,
    )
    dead = f"{topic_prefix}{ZOOM_DEAD_LETTERS}"
    poll(
        lambda: messages_in_topic(dead),
        until=lambda letters: letters >= 1,
        what=f"a dead letter on {dead}",
        timeout=30,
        interval=0.5,
        raise_on_timeout=False,
    )
    assert messages_in_topic(dead) == 1
    running.stop_all()

    # A webhook left in `processing` by a crash of an older version, two hours ago.
    stuck = zoom_event(
        "meeting.started",
        meeting_object(MEETING, "occ-stuck==", start_time="2026-11-30T09:00:00Z"),
        1_764_493_200_000,
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO zoom_webhook_logs (webhook_id, event_type, event_timestamp, zoom_meeting_id,"
            " zoom_meeting_uuid, payload, headers, processing_status, processing_attempts,"
            " received_at, updated_at) VALUES (repeat('a', 64), 'meeting.started', now(), %s,"
            " 'occ-stuck==', %s::jsonb, '{}'::jsonb, 'processing', 1, now(), now() - interval '2 hours')",
            (MEETING, dumps(stuck).decode()),
        )
        conn.execute("ALTER TABLE zoom_recording_files DROP CONSTRAINT not_yet")

    output = retry(running)
    assert "webhooks driven again: 2 from failed or stuck log rows" in output, output
    assert "now done: 2; failed again: 0" in output, output
    with psycopg.connect(database_url) as conn:
        statuses = conn.execute(
            "SELECT zoom_meeting_uuid, processing_status, processing_attempts FROM zoom_webhook_logs"
            " ORDER BY zoom_meeting_uuid"
        ).fetchall()
        recordings = conn.execute("SELECT count(*) FROM zoom_recording_files").fetchone()
        meetings = conn.execute(
            "SELECT count(*) FROM zoom_meetings WHERE zoom_meeting_uuid = 'occ-stuck=='"
        ).fetchone()
    assert statuses == [("occ-retry==", "completed", 4), ("occ-stuck==", "completed", 2)]
    assert recordings == (2,) and meetings == (1,)  # routed: a recording, and a meeting

    # The dead letter was driven once (the log row took it first); a second run has nothing.
    again = retry(running)
    assert "webhooks driven again: 0 from failed or stuck log rows, 0 from dead letters" in again
